"""The only package that reads the network: DNS probes, crawls, RDAP, CT search, NRD feeds."""
