"""Small word banks and sentence generators per language, so generated pages read like real text.

Two registers: `news` (the campaign's slanted politics, and legitimate outlets' local news) and
`business` (the shops, blogs and small firms that share hosting or templates with the network).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

LANGS = ("en", "de", "fr", "it", "es", "pl")
OG_LOCALE = {"en": "en_US", "de": "de_DE", "fr": "fr_FR", "it": "it_IT", "es": "es_ES", "pl": "pl_PL"}

NEWS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "actor": ("The government", "Brussels", "The ministry", "The treasury", "The central bank", "The energy lobby",
                  "The commission", "The farmers' union", "The pension fund", "The city council", "The chancellery", "The statistics office"),
        "verb": ("hides", "admits", "ignores", "pushes through", "quietly funds", "blocks", "doubles",
                 "cuts", "rewrites", "delays", "leaks", "denies"),
        "object": ("the real cost of the aid", "new energy taxes", "the election audit", "rising food prices",
                   "the migration deal", "pension cuts", "the heating law", "foreign grants",
                   "the sanctions bill", "a secret report", "hospital closures", "the fuel levy"),
        "tail": ("again", "this winter", "before the vote", "behind closed doors", "for the third time",
                 "despite protests", "without a debate", "as prices soar"),
        "filler": ("Readers in several regions wrote to us about the same problem.",
                   "Nobody in the capital wanted to answer our questions.",
                   "The figures were never published in full.",
                   "Independent experts say the numbers do not add up.",
                   "Families are paying the price while the elites look away.",
                   "Our sources inside the administration confirmed the plan.",
                   "Mainstream media did not report a single word of it.",
                   "Local businesses fear the next round of measures."),
        "local": ("The council approved the new cycle lane on Market Street.",
                  "The library extends its opening hours during the exam season.",
                  "The harbour festival returns on the first weekend of June.",
                  "A new bakery opened next to the railway station.",
                  "Volunteers planted two hundred trees along the river path.",
                  "The school choir won the regional competition."),
    },
    "de": {
        "actor": ("Die Regierung", "Brüssel", "Das Ministerium", "Das Finanzamt", "Die Zentralbank", "Die Energielobby",
                  "Die Kommission", "Der Bauernverband", "Die Rentenkasse", "Bürgermeister", "Das Kanzleramt", "Das Statistikamt"),
        "verb": ("verschweigt", "gibt zu", "ignoriert", "drückt durch", "finanziert heimlich", "blockiert",
                 "verdoppelt", "kürzt", "verzögert", "bestreitet"),
        "object": ("die wahren Kosten der Hilfe", "neue Energiesteuern", "die Wahlprüfung",
                   "steigende Lebensmittelpreise", "das Heizungsgesetz", "Rentenkürzungen",
                   "ausländische Zuschüsse", "einen geheimen Bericht", "Klinikschließungen"),
        "tail": ("schon wieder", "in diesem Winter", "vor der Wahl", "hinter verschlossenen Türen",
                 "trotz Protesten", "ohne Debatte"),
        "filler": ("Leser aus mehreren Regionen schrieben uns über dasselbe Problem.",
                   "Niemand in Berlin wollte unsere Fragen beantworten.",
                   "Die Zahlen wurden nie vollständig veröffentlicht.",
                   "Unabhängige Experten sagen, die Rechnung geht nicht auf.",
                   "Die Familien zahlen die Zeche, während die Eliten wegsehen.",
                   "Die großen Medien berichteten kein einziges Wort darüber."),
        "local": ("Der Stadtrat genehmigt den neuen Radweg an der Marktstraße.",
                  "Die Stadtbibliothek verlängert ihre Öffnungszeiten.",
                  "Das Hafenfest findet am ersten Juniwochenende statt.",
                  "Am Bahnhof hat eine neue Bäckerei eröffnet.",
                  "Freiwillige pflanzten zweihundert Bäume am Flussufer."),
    },
    "fr": {
        "actor": ("Le gouvernement", "Bruxelles", "Le ministère", "Le Sénat", "La banque centrale",
                  "Le lobby de l'énergie", "La commission", "Le syndicat agricole", "La caisse de retraite", "La mairie"),
        "verb": ("cache", "admet", "ignore", "impose", "finance en secret", "bloque", "double", "réduit",
                 "retarde", "dément"),
        "object": ("le vrai coût de l'aide", "de nouvelles taxes sur l'énergie", "l'audit électoral",
                   "la hausse des prix alimentaires", "la réforme des retraites", "un rapport secret",
                   "la fermeture des hôpitaux", "les subventions étrangères"),
        "tail": ("encore une fois", "cet hiver", "avant le scrutin", "à huis clos", "malgré les protestations"),
        "filler": ("Des lecteurs de plusieurs régions nous ont écrit sur le même problème.",
                   "Personne à Paris n'a voulu répondre à nos questions.",
                   "Les chiffres n'ont jamais été publiés en entier.",
                   "Les familles paient la facture pendant que les élites détournent le regard.",
                   "Les grands médias n'en ont pas dit un mot."),
        "local": ("Le conseil municipal approuve la nouvelle piste cyclable.",
                  "La médiathèque prolonge ses horaires pendant les examens.",
                  "La fête du port revient le premier week-end de juin.",
                  "Une nouvelle boulangerie a ouvert près de la gare."),
    },
    "it": {
        "actor": ("Il governo", "Bruxelles", "Il ministero", "Il Tesoro", "La banca centrale", "La lobby dell'energia",
                  "La commissione", "Il sindacato agricolo", "L'ente pensionistico", "Il comune"),
        "verb": ("nasconde", "ammette", "ignora", "impone", "finanzia in segreto", "blocca", "raddoppia",
                 "taglia", "rinvia", "smentisce"),
        "object": ("il vero costo degli aiuti", "nuove tasse sull'energia", "il controllo del voto",
                   "i prezzi del cibo", "i tagli alle pensioni", "un rapporto segreto",
                   "la chiusura degli ospedali", "i fondi stranieri"),
        "tail": ("di nuovo", "questo inverno", "prima del voto", "a porte chiuse", "nonostante le proteste"),
        "filler": ("Lettori di diverse regioni ci hanno scritto dello stesso problema.",
                   "Nessuno a Roma ha voluto rispondere alle nostre domande.",
                   "I numeri non sono mai stati pubblicati per intero.",
                   "Le famiglie pagano il conto mentre le élite guardano altrove."),
        "local": ("Il consiglio comunale approva la nuova pista ciclabile.",
                  "La biblioteca prolunga l'orario durante gli esami.",
                  "La festa del porto torna il primo fine settimana di giugno.",
                  "Un nuovo forno ha aperto vicino alla stazione."),
    },
    "es": {
        "actor": ("El gobierno", "Bruselas", "El ministerio", "Hacienda", "El banco central",
                  "El lobby energético", "La comisión", "El sindicato agrario", "La seguridad social", "El ayuntamiento"),
        "verb": ("esconde", "admite", "ignora", "impone", "financia en secreto", "bloquea", "duplica",
                 "recorta", "retrasa", "niega"),
        "object": ("el coste real de la ayuda", "nuevos impuestos a la energía", "la auditoría electoral",
                   "la subida de los alimentos", "los recortes de pensiones", "un informe secreto",
                   "el cierre de hospitales", "las subvenciones extranjeras"),
        "tail": ("otra vez", "este invierno", "antes de las elecciones", "a puerta cerrada", "pese a las protestas"),
        "filler": ("Lectores de varias regiones nos escribieron sobre el mismo problema.",
                   "Nadie en Madrid quiso responder a nuestras preguntas.",
                   "Las cifras nunca se publicaron completas.",
                   "Las familias pagan la factura mientras las élites miran hacia otro lado."),
        "local": ("El ayuntamiento aprueba el nuevo carril bici de la calle Mayor.",
                  "La biblioteca amplía su horario durante los exámenes.",
                  "La fiesta del puerto vuelve el primer fin de semana de junio.",
                  "Una nueva panadería abrió junto a la estación."),
    },
    "pl": {
        "actor": ("Rząd", "Bruksela", "Ministerstwo", "Urząd skarbowy", "Bank centralny", "Lobby energetyczne", "Komisja",
                  "Związek rolników", "Kasa emerytalna", "Ratusz"),
        "verb": ("ukrywa", "przyznaje", "ignoruje", "forsuje", "potajemnie finansuje", "blokuje", "podwaja",
                 "tnie", "opóźnia", "zaprzecza"),
        "object": ("prawdziwy koszt pomocy", "nowe podatki energetyczne", "audyt wyborczy",
                   "rosnące ceny żywności", "cięcia emerytur", "tajny raport", "zamykanie szpitali"),
        "tail": ("znowu", "tej zimy", "przed wyborami", "za zamkniętymi drzwiami", "mimo protestów"),
        "filler": ("Czytelnicy z kilku regionów pisali do nas o tym samym problemie.",
                   "Nikt w Warszawie nie chciał odpowiedzieć na nasze pytania.",
                   "Liczby nigdy nie zostały opublikowane w całości.",
                   "Rodziny płacą rachunek, a elity odwracają wzrok."),
        "local": ("Rada miasta zatwierdziła nową ścieżkę rowerową.",
                  "Biblioteka wydłuża godziny otwarcia w czasie sesji.",
                  "Święto portu wraca w pierwszy weekend czerwca.",
                  "Przy dworcu otwarto nową piekarnię."),
    },
}

BUSINESS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {"kind": ("bakery", "bike shop", "dental clinic", "yoga studio", "plumbing service", "tea shop",
                    "photo studio", "garden centre", "bookshop", "pet grooming salon", "coffee roaster"),
           "line": ("Fresh stock arrives every week.", "Free delivery on orders over 50 euros.",
                    "Family owned since {year}.", "Book an appointment online in two minutes.",
                    "Our team answers every message within a day.", "Visit our showroom on Station Road.",
                    "Sign up for our newsletter and get 10% off.", "Open Monday to Saturday, 9 to 6.")},
    "de": {"kind": ("Bäckerei", "Fahrradladen", "Zahnarztpraxis", "Yogastudio", "Sanitärbetrieb", "Teeladen",
                    "Fotostudio", "Gärtnerei", "Buchhandlung", "Hundesalon"),
           "line": ("Jede Woche frische Ware.", "Versandkostenfrei ab 50 Euro.", "Familienbetrieb seit {year}.",
                    "Termine bequem online buchen.", "Besuchen Sie uns in der Bahnhofstraße.",
                    "Geöffnet Montag bis Samstag von 9 bis 18 Uhr.")},
    "fr": {"kind": ("boulangerie", "magasin de vélos", "cabinet dentaire", "studio de yoga", "plombier",
                    "salon de thé", "librairie", "jardinerie"),
           "line": ("Des produits frais chaque semaine.", "Livraison gratuite dès 50 euros.",
                    "Entreprise familiale depuis {year}.", "Prenez rendez-vous en ligne.",
                    "Ouvert du lundi au samedi de 9h à 18h.")},
    "it": {"kind": ("panificio", "negozio di bici", "studio dentistico", "studio yoga", "idraulico",
                    "libreria", "vivaio", "torrefazione"),
           "line": ("Prodotti freschi ogni settimana.", "Spedizione gratuita sopra i 50 euro.",
                    "Azienda di famiglia dal {year}.", "Prenota online in due minuti.",
                    "Aperti dal lunedì al sabato, dalle 9 alle 18.")},
    "es": {"kind": ("panadería", "tienda de bicis", "clínica dental", "estudio de yoga", "fontanería",
                    "librería", "vivero", "tostadero de café"),
           "line": ("Producto fresco cada semana.", "Envío gratis a partir de 50 euros.",
                    "Empresa familiar desde {year}.", "Reserva tu cita online en dos minutos.",
                    "Abierto de lunes a sábado de 9 a 18.")},
    "pl": {"kind": ("piekarnia", "sklep rowerowy", "gabinet stomatologiczny", "studio jogi", "hydraulik",
                    "księgarnia", "ogrodnictwo", "palarnia kawy"),
           "line": ("Świeży towar co tydzień.", "Darmowa dostawa od 200 zł.", "Firma rodzinna od {year}.",
                    "Umów wizytę online w dwie minuty.", "Otwarte od poniedziałku do soboty, 9-18.")},
}
NAV = {"en": ("Politics", "Economy", "Society", "Opinion", "World", "Contact"),
       "de": ("Politik", "Wirtschaft", "Gesellschaft", "Meinung", "Welt", "Kontakt"),
       "fr": ("Politique", "Économie", "Société", "Opinion", "Monde", "Contact"),
       "it": ("Politica", "Economia", "Società", "Opinioni", "Mondo", "Contatti"),
       "es": ("Política", "Economía", "Sociedad", "Opinión", "Mundo", "Contacto"),
       "pl": ("Polityka", "Gospodarka", "Społeczeństwo", "Opinie", "Świat", "Kontakt")}


@dataclass(frozen=True)
class Article:
    headline: str
    slug: str
    body: tuple[str, ...]


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.lower().replace("ł", "l").replace("ß", "ss"))
    out = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in ascii_text if not unicodedata.combining(ch))
    return "-".join(p for p in out.split("-") if p)[:60]


def short(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]


def headline(rng: random.Random, lang: str) -> str:
    bank = NEWS[lang]
    return f"{rng.choice(bank['actor'])} {rng.choice(bank['verb'])} {rng.choice(bank['object'])} {rng.choice(bank['tail'])}"


def news_article(rng: random.Random, lang: str) -> Article:
    """A slanted campaign article: a headline and two or three paragraphs."""
    title = headline(rng, lang)
    bank = NEWS[lang]
    paras = []
    for _ in range(rng.randint(2, 3)):
        sents = [headline(rng, lang) + "."] + rng.sample(bank["filler"], min(2, len(bank["filler"])))
        rng.shuffle(sents)
        paras.append(" ".join(sents))
    return Article(title, slugify(title), tuple(paras))


def local_article(rng: random.Random, lang: str) -> Article:
    """An ordinary local-news item, the kind a legitimate regional outlet publishes."""
    bank = NEWS[lang]["local"]
    title = rng.choice(bank).rstrip(".")
    body = tuple(" ".join(rng.sample(bank, 2)) for _ in range(2))
    return Article(title, slugify(title), body)


def business_blurb(rng: random.Random, lang: str) -> tuple[str, list[str]]:
    """(kind of business, three lines of shop/business copy)."""
    bank = BUSINESS[lang]
    lines = [ln.format(year=rng.randint(1962, 2021)) for ln in rng.sample(bank["line"], 3)]
    return rng.choice(bank["kind"]), lines


def rewrite(rng: random.Random, article: Article, lang: str) -> Article:
    """The same story told again: new headline, shuffled and partly new paragraphs."""
    title = headline(rng, lang)
    paras = list(article.body)
    rng.shuffle(paras)
    paras[0] = " ".join(rng.sample(NEWS[lang]["filler"], 2)) + " " + paras[0].split(". ")[0] + "."
    return Article(title, slugify(title), tuple(paras))
