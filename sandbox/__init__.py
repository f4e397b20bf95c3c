"""The offline sandbox internet: DNS, HTTP(S), RDAP, CT, NRD feed and SMTP on loopback."""
