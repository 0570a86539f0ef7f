"""The hub: who receives a message, bounded outboxes, and dropping only the client that fell behind."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from rlarena.errors import InvalidInput
from rlarena.relay.hub import Client, Hub
from rlarena.relay.messages import Outbound
from rlarena.relay.protocol import Close, ConnectionRefused


def make_hub(**limits: int) -> Hub:
    values = {"queue_size": 8, "max_connections": 100, "max_per_user": 5, **limits}
    return Hub(**values)


def drain(client: Client) -> list[dict[str, object]]:
    """Everything queued for `client`, oldest first (the writer's view)."""
    found = []
    while client.pending:
        found.append(json.loads(asyncio.run(client.next())))
    return found


def to_user(user_id: uuid.UUID, number: int = 0) -> Outbound:
    return Outbound("build_status", {"n": number}, users=frozenset({user_id}))


def to_channel(channel: str, number: int = 0) -> Outbound:
    return Outbound("leaderboard_update", {"n": number}, channels=frozenset({channel}))


def test_a_users_message_reaches_every_connection_of_that_user_and_nobody_else() -> None:
    hub = make_hub()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    first, second, other = hub.admit(alice), hub.admit(alice), hub.admit(bob)

    assert hub.publish(to_user(alice)) == 2

    assert drain(first) == drain(second) == [{"type": "build_status", "payload": {"n": 0}}]
    assert drain(other) == []


def test_a_channel_message_reaches_its_subscribers_including_anonymous_ones() -> None:
    hub = make_hub()
    watcher, anonymous, bystander = hub.admit(uuid.uuid4()), hub.admit(None), hub.admit(uuid.uuid4())
    hub.subscribe(watcher, "leaderboard:pong")
    hub.subscribe(anonymous, "leaderboard:pong")

    assert hub.publish(to_channel("leaderboard:pong")) == 2
    assert drain(bystander) == []


def test_a_connection_reached_both_as_owner_and_as_subscriber_gets_the_message_once() -> None:
    hub = make_hub()
    owner = uuid.uuid4()
    client = hub.admit(owner)
    hub.subscribe(client, "agent:a")

    hub.publish(Outbound("match_created", {}, users=frozenset({owner}), channels=frozenset({"agent:a"})))

    assert len(drain(client)) == 1


def test_after_unsubscribing_a_channel_sends_nothing_more() -> None:
    hub = make_hub()
    client = hub.admit(None)
    hub.subscribe(client, "leaderboard:pong")
    hub.unsubscribe(client, "leaderboard:pong")

    assert hub.publish(to_channel("leaderboard:pong")) == 0
    assert hub.subscribers("leaderboard:pong") == 0


def test_a_removed_connection_leaves_no_trace_in_the_indexes() -> None:
    hub = make_hub()
    user = uuid.uuid4()
    client = hub.admit(user)
    hub.subscribe(client, "leaderboard:pong")

    hub.remove(client)
    hub.remove(client)  # twice is harmless

    assert (hub.connections, hub.users, hub.subscribers("leaderboard:pong")) == (0, 0, 0)
    hub.subscribe(client, "agent:a")  # a late command from a removed connection changes nothing
    assert hub.subscribers("agent:a") == 0


def test_a_full_outbox_drops_that_connection_with_4008_and_the_others_keep_receiving() -> None:
    hub = make_hub(queue_size=3)
    user = uuid.uuid4()
    slow, fast = hub.admit(user), hub.admit(user)
    kicked: list[bool] = []
    slow.on_kick = lambda: kicked.append(True)

    for number in range(5):
        hub.publish(to_user(user, number))
        drain(fast)  # this one keeps up

    assert kicked == [True]
    assert slow.kicked is not None and slow.kicked[0] == Close.TOO_SLOW
    assert "too slow" in slow.kicked[1]
    assert slow.pending == 0  # what was queued is forgotten
    assert hub.connections == 1
    assert hub.publish(to_user(user, 9)) == 1
    assert drain(fast) == [{"type": "build_status", "payload": {"n": 9}}]


def test_replies_to_a_connection_count_against_its_outbox_too() -> None:
    hub = make_hub(queue_size=2)
    client = hub.admit(None)

    for _ in range(3):
        hub.send(client, '{"type":"pong","payload":{}}')

    assert client.kicked is not None and client.kicked[0] == Close.TOO_SLOW


def test_the_relay_refuses_connections_past_its_limit_with_1013() -> None:
    hub = make_hub(max_connections=2)
    hub.admit(None)
    hub.admit(uuid.uuid4())

    with pytest.raises(ConnectionRefused) as refused:
        hub.admit(uuid.uuid4())
    assert refused.value.close_code == Close.TRY_AGAIN_LATER


def test_one_user_may_not_hold_more_than_the_per_user_limit() -> None:
    hub = make_hub(max_per_user=2)
    user = uuid.uuid4()
    hub.admit(user)
    hub.admit(user)

    with pytest.raises(ConnectionRefused) as refused:
        hub.admit(user)
    assert refused.value.close_code == Close.TOO_MANY_CONNECTIONS
    hub.admit(uuid.uuid4())  # others are not affected


def test_subscriptions_per_connection_are_capped() -> None:
    hub = Hub(queue_size=8, max_connections=10, max_per_user=5, max_channels=2)
    client = hub.admit(None)
    hub.subscribe(client, "agent:a")
    hub.subscribe(client, "agent:b")
    hub.subscribe(client, "agent:b")  # already subscribed: not a third

    with pytest.raises(InvalidInput, match="at most 2 subscriptions") as error:
        hub.subscribe(client, "agent:c")
    assert error.value.code == "too_many_subscriptions"


def test_kick_all_closes_every_connection_with_the_given_code() -> None:
    hub = make_hub()
    clients = [hub.admit(None), hub.admit(uuid.uuid4())]

    hub.kick_all(Close.RESTARTING, "restarting")

    assert hub.connections == 0
    assert all(client.kicked == (Close.RESTARTING, "restarting") for client in clients)


def test_the_writer_waits_for_the_next_message() -> None:
    async def scenario() -> str:
        client = Client(None, 4)
        waiting = asyncio.create_task(client.next())
        await asyncio.sleep(0)
        assert not waiting.done()
        client.offer("hello")
        return await asyncio.wait_for(waiting, 1)

    assert asyncio.run(scenario()) == "hello"
