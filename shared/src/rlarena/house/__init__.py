"""House agents: baseline opponents shipped with the platform (the author CLI's sparring partners,
and fixed anchors on each game's ladder). Their code is ordinary agent code under `agents/`, run in
the same sandbox as anyone's; `catalogue` names them."""
