"""The web application's settings, from the environment the stack gives its process."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # The gateway's public address: every API call goes through it, as the gateway team's would.
    gateway_url: str = Field("http://127.0.0.1:8000", validation_alias="PORTAL_GATEWAY_URL")
    # 256 random bits as URL-safe text; the cookie's encryption key is derived from it.
    session_key: str = Field(validation_alias="PORTAL_SESSION_KEY")
    # The key the pages' API calls carry, so that the gateway's per-address limits do not count
    # every visitor's calls against the pages' one address (they limit the pages' forms instead).
    pages_key: str = Field(min_length=1, validation_alias="PORTAL_PAGES_KEY")
    environment: Literal["local", "production"] = Field(
        "local", validation_alias="PORTAL_ENVIRONMENT"
    )
    municipality_name: str = Field("Δήμος", validation_alias="MUNICIPALITY_NAME")
    log_format: Literal["json", "console"] = Field("json", validation_alias="LOG_FORMAT")
    # How long a call to the gateway may take before the page says the service is unavailable.
    api_timeout_seconds: float = Field(15.0, validation_alias="PORTAL_API_TIMEOUT_SECONDS")


@lru_cache
def get_settings() -> Settings:
    return Settings()
