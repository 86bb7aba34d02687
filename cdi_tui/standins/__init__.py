"""Local stand-ins for Redshift and Braze, bound to 127.0.0.1 only.

Used by the tests, by ``cdi-tui demo`` and by the benchmarks. Each starts with one call and
stops cleanly:

- :class:`~cdi_tui.standins.postgres.RedshiftStandIn`: a real PostgreSQL behind a
  Redshift wire proxy.
- :class:`~cdi_tui.standins.braze.BrazeStandIn`: an HTTP server that behaves like Braze.
- :func:`~cdi_tui.standins.secret_service.start_secret_service`: a private D-Bus session
  with gnome-keyring, so keyring has a real Secret Service.
"""
