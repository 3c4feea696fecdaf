"""Stand-in for pypa's get-pip.py, whose download host is unreachable here.

ansible-test runs get-pip.py inside each sanity virtualenv it creates; this does the same job with the
interpreter's own bundled pip (ensurepip) and then installs the requested packages from PyPI.
"""

import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade", *args]))
