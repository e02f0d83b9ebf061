"""Domain rules of identity (in memory): ΑΦΜ, profiles, verification (SPEC ID-1..ID-4)."""

import pytest
from identity_service.domainmodel import (
    CommandNotApplicable,
    ProfileInvalid,
    User,
    UserAlreadyVerified,
    UserNotVerified,
    afm_is_valid,
    email_index_id,
    normalise_email,
)
from portal_web.text import clean_email

CITIZEN_PROFILE = {
    "first_name": "Μαρία",
    "last_name": "Παπαδοπούλου",
    "father_name": "Γεώργιος",
    "date_of_birth": "1980-05-17",
    "afm": "090000045",
    "id_document_number": "ΑΚ123456",
    "address": "Ερμού 1, Αθήνα",
    "phone": "+302101234567",
}


@pytest.mark.parametrize("afm", ["090000045", "094014201", "999999993"])
def test_id2_afm_check_digit_valid(afm):
    assert afm_is_valid(afm)


@pytest.mark.parametrize(
    "afm",
    ["123456789", "090000046", "09000004", "0900000450", "09000004a", "000000000", "０90000045"],
)
def test_id2_afm_check_digit_invalid(afm):
    assert not afm_is_valid(afm)


def test_id2_afm_formula_by_hand():
    # 123456789: 1*256+2*128+3*64+4*32+5*16+6*8+7*4+8*2 = 1004; 1004 % 11 % 10 = 3 != 9
    assert sum(int(d) * 2 ** (8 - i) for i, d in enumerate("12345678")) % 11 % 10 == 3
    assert not afm_is_valid("123456789")
    assert afm_is_valid("123456783")


def test_id1_register_normalises_email_and_sets_role():
    user = User.register("citizen", "  Maria@Example.GR ", "hash")
    assert user.email == "maria@example.gr"
    assert user.role == "citizen" and user.kind == "citizen"
    assert not user.verified and not user.profile_complete
    assert email_index_id("MARIA@example.gr") == email_index_id("maria@example.gr")


def test_id1_lookalike_addresses_have_the_canonical_form_of_the_api():
    """issue 5 §1: the domain's canonical address is the API `Email` type's (NFKC + casefold),
    so a full-width or differently cased look-alike is the same account."""
    lookalike = "ＭＡRIA@Ｅxample.gr"
    assert normalise_email(lookalike) == clean_email(lookalike) == "maria@example.gr"
    assert email_index_id(lookalike) == email_index_id("maria@example.gr")
    assert User.register("citizen", lookalike, "hash").email == "maria@example.gr"


def test_id1_staff_roles_cannot_self_register():
    with pytest.raises(CommandNotApplicable):
        User.register("admin", "a@b.gr", "hash")


def test_id2_profile_complete_flips_for_citizen():
    user = User.register("citizen", "m@example.gr", "hash")
    user.update_profile({k: v for k, v in CITIZEN_PROFILE.items() if k != "phone"})
    assert not user.profile_complete
    user.update_profile(CITIZEN_PROFILE)
    assert user.profile_complete
    user.update_profile(CITIZEN_PROFILE | {"phone": "  "})
    assert not user.profile_complete


def test_id2_business_needs_valid_afm():
    user = User.register("business", "b@example.gr", "hash")
    with pytest.raises(ProfileInvalid) as missing:
        user.update_profile({"legal_name": "ΑΒΓ ΑΕ"})
    assert missing.value.field == "afm"
    with pytest.raises(ProfileInvalid):
        user.update_profile({"legal_name": "ΑΒΓ ΑΕ", "afm": "123456789"})
    user.update_profile(
        {"legal_name": "ΑΒΓ ΑΕ", "afm": "090000045", "address": "Α 1", "representative": "Ν. Ν."}
    )
    assert user.profile_complete


def test_id2_unknown_field_for_kind_rejected():
    user = User.register("citizen", "m@example.gr", "hash")
    with pytest.raises(ProfileInvalid):
        user.update_profile({"legal_name": "not for citizens"})


def test_id4_clerk_needs_department_and_staff_have_no_profile():
    with pytest.raises(ProfileInvalid):
        User.create_staff("c@example.gr", "hash", "clerk", None)
    auditor = User.create_staff("a@example.gr", "hash", "auditor", "ignored")
    assert auditor.department is None and auditor.kind == "staff"
    with pytest.raises(CommandNotApplicable):
        auditor.update_profile({"first_name": "x"})


def test_id3_verify_and_revoke():
    user = User.register("citizen", "m@example.gr", "hash")
    with pytest.raises(UserNotVerified):
        user.revoke_verification("no reason", "clerk")
    user.verify("identity_card", "ΑΚ123456", "clerk-1")
    assert user.verified and user.verification["document_type"] == "identity_card"
    with pytest.raises(UserAlreadyVerified):
        user.verify("passport", "X1", "clerk-1")
    user.revoke_verification("forged document", "clerk-2")
    assert not user.verified


def test_id3_staff_are_not_verified_in_person():
    clerk = User.create_staff("c@example.gr", "hash", "clerk", "technical")
    with pytest.raises(CommandNotApplicable):
        clerk.verify("passport", "X1", "clerk-1")


def test_events_have_stable_topics():
    user = User.register("citizen", "m@example.gr", "hash")
    user.update_profile(CITIZEN_PROFILE)
    user.verify("passport", "X1", "c")
    user.revoke_verification("r", "c")
    topics = [type(e).TOPIC for e in user.collect_events()]
    assert topics == [
        "identity:User.Registered",
        "identity:User.ProfileUpdated",
        "identity:User.Verified",
        "identity:User.VerificationRevoked",
    ]
