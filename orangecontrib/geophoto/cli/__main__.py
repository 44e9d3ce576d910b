import sys

from orangecontrib.geophoto.cli import main

sys.exit(main())
