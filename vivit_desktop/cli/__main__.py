from vivit_desktop.cli import main

raise SystemExit(main())
