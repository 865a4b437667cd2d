"""Every benchmark scenario, in the order `make bench` runs them.

To add one (earn purchases, redeem orders, catalog search...): write
`bench/scenarios/<name>.py` exposing `SCENARIO = Scenario(name, services, run)` and list it here.
"""

from bench.scenario import Scenario
from bench.scenarios import accounts

ALL: tuple[Scenario, ...] = (accounts.SCENARIO,)
