"""The register's read model: views other services may read in their own statements.

Accounts owns the register (``persons``, ``users``, ``family_links``); another service
that must ask about a person inside one statement of its own (health's kiosk booking
reads the patient, the slot and whom to tell in one round trip) reads these views,
never the tables. The views are created by accounts' migrations (``0010_person_views``;
``0012_person_sex`` adds ``sex``); they are declared here in a metadata of their own, so that
``create_all`` and the comparison of the models with the migrated schema, which are
about tables, leave them alone.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, MetaData, String, Table

VIEWS = MetaData()

# A person as other services may know them (``service.PersonFacts``), found by id or by
# OMS policy number (16 digits, as ``service.normalize_oms_policy`` returns it). ``sex``
# is female, male or null (not stated yet).
PERSON_FACTS = Table(
    "person_facts",
    VIEWS,
    Column("person_id", BigInteger, nullable=False),
    Column("oms_policy", String(16)),
    Column("birth_date", Date),
    Column("first_name", String(100), nullable=False),
    Column("sex", String(6)),
)

# The active accounts that hear about a person (``service.users_to_notify``): their own
# and their guardians'.
PERSON_CONTACTS = Table(
    "person_contacts",
    VIEWS,
    Column("person_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
)
