"""`python -m fea_ros.cli` runs the `fea-ros` command without the console script being installed."""
import sys

from fea_ros.cli import main

sys.exit(main())
