"""`python -m bot` does what the `helpdesk` command does."""

import sys

from bot.cli import main

sys.exit(main())
