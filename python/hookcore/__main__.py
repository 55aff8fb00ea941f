from hookcore.cli import main

raise SystemExit(main())
