"""What schemathesis found against the local platform, pinned down on both databases."""

from __future__ import annotations

import urllib.parse

from tests.support.api import ApiClient

AGENT_CODE = b"def agent(observation, configuration):\n    return observation['legal_actions'][0]\n"


def test_code_downloads_of_agents_with_non_latin_names_keep_their_name_in_a_valid_header(api: ApiClient) -> None:
    # Headers are Latin-1 on the wire: a name with other characters in `filename` was a 500 from the server.
    owner = api.register()
    agent = api.create_agent(owner, name="Ünïcode 𖾞 бот")
    uploaded = api.upload(owner, agent["id"], "agent.py", AGENT_CODE)
    assert uploaded.status_code == 201, uploaded.get_json()
    submission_id = uploaded.get_json()["submission"]["id"]

    download = api.get(f"/api/v1/submissions/{submission_id}/code", headers=owner.headers)

    assert download.status_code == 200
    assert download.data == AGENT_CODE
    disposition = download.headers["Content-Disposition"]
    disposition.encode("latin-1")  # raises if the header cannot be sent
    assert 'filename="_n_code______-v1-agent.py"' in disposition
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert urllib.parse.unquote(encoded) == "Ünïcode 𖾞 бот-v1-agent.py"
