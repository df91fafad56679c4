"""Password hashing and the credential cache."""
from server.passwords import CredentialCache, hash_password, verify_password


def test_argon2id_hash_verifies_only_the_right_password():
    stored = hash_password("correct horse")
    # the server's cost (RFC 9106's low-memory profile); the tests' own accounts use a smaller one (tests/conftest.py)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong")
    assert not verify_password(None, "x") and not verify_password("garbage", "x")


def test_cache_remembers_a_verified_password_and_never_a_wrong_one():
    cache = CredentialCache(ttl_seconds=60)
    stored = hash_password("pw-1")
    assert cache.verify("u", "pw-1", stored)
    assert not cache.verify("u", "pw-2", stored)
    assert cache.verify("u", "pw-1", stored)
    assert not cache.verify("u", "pw-1", hash_password("pw-other"))  # the stored hash changed


def test_cache_proofs_are_hmacs_not_passwords():
    cache = CredentialCache(ttl_seconds=60)
    cache.verify("u", "secret-password", hash_password("secret-password"))
    proof, _expiry = cache._proofs["u"]
    assert b"secret-password" not in proof and len(proof) == 32
