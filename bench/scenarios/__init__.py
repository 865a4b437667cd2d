"""Every benchmark scenario, in the order `make bench` runs them.

To add one: write `bench/scenarios/<name>.py` exposing `SCENARIO = Scenario(name, services,
run)` and list it here. Billing stays last: it purges what the others left on its subjects.
"""

from bench.scenario import Scenario
from bench.scenarios import accounts, billing, catalog_search, earn_purchases, redeem_orders

ALL: tuple[Scenario, ...] = (
    accounts.SCENARIO,
    earn_purchases.SCENARIO,
    redeem_orders.SCENARIO,
    catalog_search.SCENARIO,
    billing.SCENARIO,
)
