from cdi_tui.cli import main

raise SystemExit(main())
