"""``cdi-tui serve`` as a service: the scheduler loop, the runs it starts, the HTTP listener
(metrics, health, the trigger API), systemd's notify protocol and JSON logs. Headless: no Textual."""
