import sys

from s2d.cli import main

sys.exit(main())
