"""Personal data rules: checksums, formats, password policy, masking (pure, no database)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infocity.accounts import rules
from infocity.core.ages import age_on
from infocity.core.errors import InvalidInput

nine_digits = st.integers(min_value=1_001_999, max_value=999_999_999).map(lambda n: f"{n:09d}")


def snils_of(first_nine: str) -> str:
    return first_nine + rules.snils_control_number(first_nine)


@pytest.mark.parametrize(
    ("snils", "written"),
    [
        ("11223344595", "112-233-445 95"),
        ("00104885800", "001-048-858 00"),  # sum 101 → control 00
        ("00105882800", "001-058-828 00"),  # sum 100 → control 00
    ],
)
def test_known_snils_numbers_are_accepted_however_written(snils: str, written: str) -> None:
    assert rules.normalize_snils(written) == snils
    assert rules.normalize_snils(snils) == snils
    assert rules.format_snils(snils) == written


def test_snils_control_number_follows_the_official_rule() -> None:
    assert rules.snils_control_number("112233445") == "95"  # sum 95 < 100: itself
    assert rules.snils_control_number("001048858") == "00"  # sum 101
    assert rules.snils_control_number("001058828") == "00"  # sum 100
    # Over 101: modulo 101, then the same rule.
    assert rules.snils_control_number("001688762") == "49"  # 150 mod 101
    assert rules.snils_control_number("087654303") == "00"  # 202 mod 101 = 0


@given(nine_digits)
def test_every_snils_with_its_control_number_is_valid(first_nine: str) -> None:
    snils = snils_of(first_nine)
    assert rules.normalize_snils(f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}") == snils


@given(nine_digits, st.integers(min_value=1, max_value=99))
def test_a_wrong_control_number_is_refused(first_nine: str, shift: int) -> None:
    control = int(rules.snils_control_number(first_nine))
    wrong = f"{(control + shift) % 100:02d}"
    with pytest.raises(InvalidInput) as refused:
        rules.normalize_snils(first_nine + wrong)
    assert refused.value.code == "invalid_snils"
    assert refused.value.field == "snils"


@pytest.mark.parametrize(
    "bad", ["", "1122334459", "112233445951", "112-233-445 9x", "１１２２３３４４５９５"]
)
def test_malformed_snils_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.normalize_snils(bad)
    assert refused.value.code == "invalid_snils"


def test_oms_policy_and_passport_formats() -> None:
    assert rules.normalize_oms_policy("7755 1234 5678 1234") == "7755123456781234"
    with pytest.raises(InvalidInput) as refused:
        rules.normalize_oms_policy("775512345678123")
    assert refused.value.code == "invalid_oms_policy"
    assert rules.normalize_passport("45 06 123456") == rules.Passport("4506", "123456")
    assert rules.normalize_passport("4506 № 123456") == rules.Passport("4506", "123456")
    with pytest.raises(InvalidInput) as refused:
        rules.normalize_passport("45 06 12345")
    assert (refused.value.code, refused.value.field) == ("invalid_passport", "passport")


@pytest.mark.parametrize(
    "written",
    ["+7 (916) 123-45-67", "8 916 123 45 67", "89161234567", "79161234567", "9161234567"],
)
def test_phone_numbers_are_normalised_to_e164(written: str) -> None:
    assert rules.normalize_phone(written) == "+79161234567"


@pytest.mark.parametrize(
    "bad", ["", "+1 916 123 45 67", "916-123-45", "8 916 ABC 45 67", "+7 016 123 45 67"]
)
def test_impossible_phone_numbers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.normalize_phone(bad)
    assert (refused.value.code, refused.value.field) == ("invalid_phone", "phone")


@given(st.integers(min_value=1_000_000_000, max_value=9_999_999_999))
def test_phone_normalisation_is_idempotent(national: int) -> None:
    phone = rules.normalize_phone(f"8{national}")
    assert rules.normalize_phone(phone) == phone
    assert rules.mask_phone(phone).endswith(phone[-2:])
    assert phone[2:-2] not in rules.mask_phone(phone)


def test_email_is_lower_cased_and_checked() -> None:
    assert rules.normalize_email("  Anna.Ivanova@Example.RU ") == "anna.ivanova@example.ru"
    with pytest.raises(InvalidInput) as refused:
        rules.normalize_email("anna@")
    assert refused.value.code == "invalid_email"


def test_identifier_is_an_email_or_a_phone() -> None:
    assert rules.parse_identifier("A@B.ru") == rules.Identifier("email", "a@b.ru")
    assert rules.parse_identifier("8 916 123-45-67") == rules.Identifier("phone", "+79161234567")
    with pytest.raises(InvalidInput) as refused:
        rules.parse_identifier("anna")
    assert refused.value.code == "invalid_identifier"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1", "password_too_short"),
        ("1234567890123", "password_all_digits"),
        ("anna@example.ru", "password_is_login"),
        ("ANNA@EXAMPLE.RU", "password_is_login"),
        ("+79161234567", "password_is_login"),
        ("89161234567", "password_all_digits"),
        ("x" * 129, "password_too_long"),
    ],
)
def test_password_policy(password: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.check_password(password, email="anna@example.ru", phone="+79161234567")
    assert refused.value.code == code
    assert refused.value.field == "password"


def test_a_good_password_passes() -> None:
    rules.check_password("correct-horse-battery", email="anna@example.ru", phone="+79161234567")


def test_masks_show_only_the_last_digits() -> None:
    assert rules.mask_snils("11223344595") == "***-***-445 95"
    assert rules.mask_oms_policy("7755123456781234") == "************1234"
    assert rules.mask_passport("4506", "123456") == "** ** ***456"
    assert rules.mask_phone("+79161234567") == "+7 *** ***-**-67"


@given(nine_digits)
def test_masked_snils_never_shows_the_first_six_digits(first_nine: str) -> None:
    masked = rules.mask_snils(snils_of(first_nine))
    assert masked.startswith("***-***-")
    assert first_nine[:6] not in masked.replace("-", "").replace(" ", "")[:6]


@pytest.mark.parametrize("name", ["Анна", "Анна-Мария", "Saltykov Shchedrin", "Ёлкина", "O Brien"])
def test_names_in_cyrillic_or_latin(name: str) -> None:
    assert rules.normalize_name(f"  {name} ", field="first_name") == name


@pytest.mark.parametrize("bad", ["", "Анна1", "<script>", "Anna_", "-Анна", "x" * 101])
def test_names_with_other_characters_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.normalize_name(bad, field="last_name")
    assert (refused.value.code, refused.value.field) == ("invalid_name", "last_name")


def test_child_birth_date() -> None:
    today = date(2026, 3, 1)
    rules.check_child_birth_date(date(2008, 3, 2), today=today)  # 17 until tomorrow
    with pytest.raises(InvalidInput) as adult:
        rules.check_child_birth_date(date(2008, 3, 1), today=today)
    assert adult.value.code == "not_a_child"
    with pytest.raises(InvalidInput) as unborn:
        rules.check_child_birth_date(date(2026, 3, 2), today=today)
    assert unborn.value.code == "birth_date_in_future"


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
)
def test_age_never_decreases_and_turns_at_the_birthday(born: date, today: date) -> None:
    if today < born:
        return
    age = age_on(born, today)
    assert age >= 0
    assert today.year - born.year - 1 <= age <= today.year - born.year


def test_lookup_query_reads_every_document_it_could_be() -> None:
    assert rules.parse_lookup_query("112-233-445 95") == rules.LookupQuery(snils="11223344595")
    assert rules.parse_lookup_query("7755 1234 5678 1234") == rules.LookupQuery(
        oms_policy="7755123456781234"
    )
    assert rules.parse_lookup_query("+7 916 123-45-67") == rules.LookupQuery(phone="+79161234567")
    with pytest.raises(InvalidInput) as refused:
        rules.parse_lookup_query("Иванова")
    assert refused.value.code == "invalid_lookup_query"
    described = rules.parse_lookup_query("112-233-445 95").describe()
    assert "112" not in described
    assert "445 95" in described
