"""The pure core of hydrawatch: values in, values out. No sockets, database, files, clock or mail."""
