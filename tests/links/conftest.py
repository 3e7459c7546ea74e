from tests.links.linkkit import _keys, browser, doctor, hub, make_net, running_hub  # noqa: F401
