"""The bootstrapped admin's password (issue 6; ASVS 5.0 V6.3.2: no default account with a
password anyone can look up): only the local stack accepts the demo password."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from identity_service.main import service
from identity_service.settings import AdminPasswordRefused, IdentitySettings, check_admin_password

DEMO_PASSWORD = "Demo-Admin-2026!"  # the local stack's, deploy/local/portal_stack/config.py


def settings(**values) -> IdentitySettings:
    return IdentitySettings(_env_file=None, **values)


def test_v6_3_2_production_is_the_default_environment():
    assert settings().portal_environment == "production"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        (None, "is not set"),
        ("short-pw", "shorter than 12"),
        (DEMO_PASSWORD, "well-known"),
        (DEMO_PASSWORD.upper(), "well-known"),
        ("password1234", "well-known"),
    ],
)
def test_v6_3_2_outside_local_the_admin_needs_a_password_of_its_own(password, problem):
    with pytest.raises(AdminPasswordRefused, match=problem) as refused:
        check_admin_password(
            settings(portal_admin_email="admin@dimos.gr", portal_admin_password=password)
        )
    assert "PORTAL_ADMIN_PASSWORD" in str(refused.value)


def test_v6_3_2_what_is_accepted():
    check_admin_password(settings())  # no admin to bootstrap
    check_admin_password(
        settings(portal_admin_email="admin@dimos.gr", portal_admin_password="a-long-own-secret")
    )
    check_admin_password(
        settings(
            portal_environment="local",
            portal_admin_email="admin@demo.portal.gr",
            portal_admin_password=DEMO_PASSWORD,
        )
    )


def test_v6_3_2_identity_does_not_start_with_the_demo_password_in_production(
    infra, database, key_file
):
    production = IdentitySettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        postgres_user=infra.pg_user,
        postgres_password=infra.pg_password,
        postgres_dbname=database,
        kafka_enabled=False,
        jwt_private_key_file=key_file,
        portal_admin_email="admin@demo.portal.gr",
        portal_admin_password=DEMO_PASSWORD,
        log_format="console",
    )
    with pytest.raises(AdminPasswordRefused), TestClient(service.create_app(production)):
        pass


def test_trusted_proxies_with_a_typo_stop_start_up():
    with pytest.raises(ValueError, match="gateway"):
        settings(trusted_proxies="127.0.0.1/32,gateway")
    assert [str(n) for n in settings(trusted_proxies="10.0.0.0/8").trusted_proxy_networks] == [
        "10.0.0.0/8"
    ]
