"""When and in what order: cycles, hunts, the daemon, alert delivery."""
