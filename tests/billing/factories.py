import datetime
from decimal import Decimal

from billing.services import LineSpec, invoice_issue


def issue(contract, *, amount="2590.00", issue_date=None, due_days=20, description=None):
    issue_date = issue_date or contract.provider.today()
    return invoice_issue(
        contract=contract,
        lines=[LineSpec(description=description or "PLAN 6 MEGAS", amount=Decimal(amount))],
        issue_date=issue_date,
        due_date=issue_date + datetime.timedelta(days=due_days),
    )
