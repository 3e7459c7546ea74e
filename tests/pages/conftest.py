from tests.flows.conftest import browser, running_hub  # noqa: F401
