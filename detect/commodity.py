"""Infrastructure shared by millions of unrelated domains, whatever the store has seen of it.

A store that has watched a network for a day has seen a Cloudflare address or a registrar's default
name servers only a few times, so its own counts call them rare. They are not: sharing one with the
network says nothing about who runs a site (FIELD-NOTES: "commodity values (a Cloudflare IP, a big
registrar) are shared by millions: weight a shared value by how rare it is"). This module names them.

Provenance (public, as of 2024–2026):
- CDN ranges: Cloudflare publishes https://www.cloudflare.com/ips-v4 and /ips-v6; Fastly publishes
  https://api.fastly.com/public-ip-list. Listed here in full as published (IPv4 and the IPv6 blocks).
- DNS providers and registrar defaults: the name-server domains that each provider documents for its
  customers (GoDaddy domaincontrol.com, Namecheap registrar-servers.com, eNom name-services.com,
  Hostinger dns-parking.com, Cloudflare ns.cloudflare.com, Amazon Route 53 awsdns-NN, Azure azure-dns,
  Google Cloud DNS googledomains.com, NS1 nsone.net, Gandi gandi.net, OVHcloud ovh.net, Hetzner,
  IONOS ui-dns, REG.RU, RU-CENTER nic.ru, Beget, Timeweb, Porkbun, NameSilo dnsowl.com, Network
  Solutions worldnic.com, Dynadot, Namebright, Njalla, DigitalOcean, Linode, Vultr, Hostgator, Bluehost,
  Wix, Squarespace, Shopify, Tilda). Parking providers are in config/signatures/parking.toml.
Pure: values in, values out; nothing is read at import or at run time beyond these constants.
"""

from __future__ import annotations

import functools
import ipaddress

from detect.model import Indicator

CDN_RANGES: dict[str, tuple[str, ...]] = {
    "Cloudflare": (
        "173.245.48.0/20", "103.21.244.0/22", "103.22.200.0/22", "103.31.4.0/22", "141.101.64.0/18",
        "108.162.192.0/18", "190.93.240.0/20", "188.114.96.0/20", "197.234.240.0/22", "198.41.128.0/17",
        "162.158.0.0/15", "104.16.0.0/13", "104.24.0.0/14", "172.64.0.0/13", "131.0.72.0/22",
        "2400:cb00::/32", "2606:4700::/32", "2803:f800::/32", "2405:b500::/32", "2405:8100::/32",
        "2a06:98c0::/29", "2c0f:f248::/32",
    ),
    "Fastly": (
        "23.235.32.0/20", "43.249.72.0/22", "103.244.50.0/24", "103.245.222.0/23", "103.245.224.0/24",
        "104.156.80.0/20", "140.248.64.0/18", "140.248.128.0/17", "146.75.0.0/17", "151.101.0.0/16",
        "157.52.64.0/18", "167.82.0.0/17", "167.82.128.0/20", "167.82.160.0/20", "167.82.224.0/20",
        "172.111.64.0/18", "185.31.16.0/22", "199.27.72.0/21", "199.232.0.0/16", "2a04:4e40::/32",
        "2a04:4e42::/32",
    ),
}

# Registrable domains of name servers that host domains for anyone who signs up.
SHARED_DNS_DOMAINS: frozenset[str] = frozenset({
    "cloudflare.com", "domaincontrol.com", "registrar-servers.com", "name-services.com", "dns-parking.com",
    "googledomains.com", "nsone.net", "gandi.net", "ovh.net", "ovh.ca", "anycast.me", "hetzner.com",
    "your-server.de", "first-ns.de", "second-ns.de", "second-ns.com", "ui-dns.com", "ui-dns.de", "ui-dns.org",
    "ui-dns.biz", "reg.ru", "nic.ru", "beget.com", "beget.pro", "timeweb.ru", "timeweb.org", "porkbun.com",
    "dnsowl.com", "worldnic.com", "dynadot.com", "namebrightdns.com", "njalla.net", "njal.la",
    "digitalocean.com", "linode.com", "vultr.com", "hostgator.com", "bluehost.com", "wixdns.net",
    "squarespacedns.com", "shopify.com", "tildadns.com", "hostinger.com", "namecheaphosting.com",
    "dnsmadeeasy.com", "ultradns.com", "ultradns.net", "ultradns.org", "dynect.net", "akam.net",
    "azure-dns.com", "azure-dns.net", "azure-dns.org", "azure-dns.info", "he.net", "afraid.org",
    "name.com", "hover.com", "one.com", "strato.de", "netcup.net", "ispmanager.com", "sprinthost.ru",
    "jino.ru", "majordomo.ru", "hosting.reg.ru", "ns1.com", "gname.net", "share-dns.com", "share-dns.net",
    "dns.com", "hichina.com", "alidns.com", "dnspod.net",
})
AWS_DNS_PREFIX = "awsdns-"  # Route 53: ns-N.awsdns-NN.com/.net/.org/.co.uk


@functools.cache
def _networks() -> tuple[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network], ...]:
    return tuple((owner, ipaddress.ip_network(cidr)) for owner, cidrs in CDN_RANGES.items() for cidr in cidrs)


def cdn_of(address: str) -> str:
    """The CDN whose published range holds ``address`` (or the /24, /48 prefix given), else ""."""
    try:
        net = ipaddress.ip_network(address, strict=False)
    except ValueError:
        return ""
    for owner, block in _networks():
        if net.version == block.version and net.subnet_of(block):  # type: ignore[arg-type]
            return owner
    return ""


def _dns_domain(host: str) -> str:
    labels = host.lower().rstrip(".").split(".")
    for i in range(len(labels) - 1):
        tail = ".".join(labels[i:])
        if tail in SHARED_DNS_DOMAINS:
            return tail
    return ""


def commodity_reason(ind: Indicator) -> str:
    """Why a shared value says nothing about who runs a site ("Cloudflare address" …), or ""."""
    if ind.kind in ("ip", "ip_prefix"):
        owner = cdn_of(ind.value)
        return f"{owner} address (a CDN in front of millions of sites)" if owner else ""
    if ind.kind in ("ns", "ns_domain", "rdap_ns"):
        host = ind.value.lower()
        if AWS_DNS_PREFIX in host:
            return "Amazon Route 53 name server (a DNS service for anyone)"
        if shared := _dns_domain(host):
            return f"{shared} name server (a DNS service or registrar default for anyone)"
    return ""
