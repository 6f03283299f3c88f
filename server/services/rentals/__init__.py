"""The rental-housing register (出租房屋台账): `rules.py` (what a violation is), `derive.py` (units,
landlords and inspections derived from the register's households), `ledger.py` (reading it by
village, landlord and violation), `rectifications.py` (整改 ordered and closed), `exports.py`
(the register as rows and as a workbook, masked and audited)."""
