"""age encryption in transit: recipients, passphrases, volumes of ciphertext, every failure named,
no secret in any output, interoperability with the standard `age` tool."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pyrage import x25519

from k2p.cli import main
from k2p.crypt.stream import AGE_MAGIC
from k2p.errors import ExitCode
from tests.helpers.archives import tree_bytes, write_archive

PASSPHRASE = "correct horse battery staple 2026"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={"K2P_AGE_IDENTITY": "", **(env or {})})


def key_file(path: Path, identity: x25519.Identity | None = None) -> tuple[Path, x25519.Identity]:
    identity = identity or x25519.Identity.generate()
    path.write_text(f"# created: test\n# public key: {identity.to_public()}\n{identity}\n")
    path.chmod(0o600)
    return path, identity


@pytest.fixture()
def setup(tmp_path: Path) -> dict:
    sealed = write_archive(tmp_path / "acme.k2p")
    key, identity = key_file(tmp_path / "key.txt")
    plain = tmp_path / "plain.k2p.tar"
    assert run("pack", str(sealed.root), "-o", str(plain)).exit_code == 0
    return {"root": sealed.root, "fingerprint": sealed.fingerprint, "key": key, "identity": identity,
            "recipient": str(identity.to_public()), "plain": plain, "dir": tmp_path}


def encrypt(setup: dict, *extra: str) -> Result:
    result = run("pack", str(setup["root"]), "--encrypt-to", setup["recipient"], *extra)
    assert result.exit_code == 0, result.output
    return result


def assert_no_secret(setup: dict, *texts: str) -> None:
    for text in texts:
        assert str(setup["identity"]) not in text and PASSPHRASE not in text


def test_recipient_round_trip(setup: dict, tmp_path: Path) -> None:
    packed = encrypt(setup)
    sealed = tmp_path / "acme.k2p.tar.age"
    data = sealed.read_bytes()
    assert data.startswith(AGE_MAGIC)
    assert b"Card 1" not in data and b"hello world" not in data and b"SHA256SUMS" not in data
    cipher_sha = hashlib.sha256(data).hexdigest()
    assert cipher_sha in packed.output and setup["fingerprint"] in packed.output
    verified = run("verify", str(sealed), "--identity", str(setup["key"]))
    assert verified.exit_code == 0, verified.output
    assert setup["fingerprint"] in verified.output and cipher_sha in verified.output
    report = json.loads(run("verify", "--json", str(sealed), "--identity", str(setup["key"])).output)
    assert report["status"] == "ok" and report["fingerprint"] == setup["fingerprint"]
    assert report["container"]["encryption"]["ciphertext_sha256"] == cipher_sha
    assert report["files_checked"] == len(tree_bytes(setup["root"], ".")) - 1
    info = run("inspect", str(sealed), "--identity", str(setup["key"]))
    assert info.exit_code == 0 and setup["fingerprint"] in info.output and cipher_sha in info.output
    cards = run("cat", str(sealed), "cards", "--identity", str(setup["key"]))
    assert cards.output == run("cat", str(setup["root"]), "cards").output
    out = tmp_path / "out.k2p"
    unpacked = run("unpack", str(sealed), "-o", str(out), "--identity", str(setup["key"]))
    assert unpacked.exit_code == 0, unpacked.output
    assert tree_bytes(out, ".") == tree_bytes(setup["root"], ".")
    assert_no_secret(setup, packed.output, verified.output, info.output, unpacked.output,
                     json.dumps(report))


def test_identity_from_environment_text_or_path(setup: dict) -> None:
    encrypt(setup)
    sealed = setup["dir"] / "acme.k2p.tar.age"
    for value in (str(setup["identity"]), str(setup["key"])):
        result = run("verify", "--fast", str(sealed), env={"K2P_AGE_IDENTITY": value})
        assert result.exit_code == 0, result.output
        assert_no_secret(setup, result.output)
    missing = run("verify", str(sealed))
    assert missing.exit_code == ExitCode.USAGE and "--identity FILE" in missing.output


def test_several_recipients_each_decrypts(setup: dict) -> None:
    _, other = key_file(setup["dir"] / "other.txt")
    encrypt(setup, "--encrypt-to", str(other.to_public()))
    sealed = setup["dir"] / "acme.k2p.tar.age"
    for key in ("key.txt", "other.txt"):
        assert run("verify", "--fast", str(sealed), "--identity", str(setup["dir"] / key)).exit_code == 0


def test_wrong_identity_truncated_and_bit_flip_are_exit_3_naming_the_file(setup: dict, tmp_path: Path) -> None:
    encrypt(setup)
    sealed = tmp_path / "acme.k2p.tar.age"
    wrong, _ = key_file(tmp_path / "wrong.txt")
    result = run("verify", str(sealed), "--identity", str(wrong))
    assert result.exit_code == ExitCode.ARCHIVE_INVALID
    assert str(sealed) in result.output and "none of the given age identities" in result.output
    data = sealed.read_bytes()
    cases = {"truncated.k2p.tar.age": data[: len(data) - 100],
             "flipped.k2p.tar.age": data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0x10])
             + data[len(data) // 2 + 1:],
             "header.k2p.tar.age": data[:30]}
    for name, content in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        for command in (["verify"], ["inspect"], ["unpack", "-o", str(tmp_path / f"out-{name}")]):
            result = run(command[0], str(bad), *command[1:], "--identity", str(setup["key"]))
            assert result.exit_code == ExitCode.ARCHIVE_INVALID, (name, command, result.output)
            assert str(bad) in result.output and "Traceback" not in result.output
            assert_no_secret(setup, result.output)
        assert not (tmp_path / f"out-{name}").exists() and not list(tmp_path.glob(f".out-{name}*"))


def test_passphrase_round_trip_and_wrong_passphrase(setup: dict, tmp_path: Path) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSPHRASE + "\n")
    secret.chmod(0o600)
    packed = run("pack", str(setup["root"]), "--passphrase-file", str(secret))
    assert packed.exit_code == 0, packed.output
    sealed = tmp_path / "acme.k2p.tar.age"
    assert b"-> scrypt" in sealed.read_bytes()[:200]
    verified = run("verify", str(sealed), "--passphrase-file", str(secret))
    assert verified.exit_code == 0 and setup["fingerprint"] in verified.output
    out = tmp_path / "out.k2p"
    assert run("unpack", str(sealed), "-o", str(out), "--passphrase-file", str(secret)).exit_code == 0
    assert tree_bytes(out, ".") == tree_bytes(setup["root"], ".")
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase\n")
    wrong.chmod(0o600)
    refused = run("verify", str(sealed), "--passphrase-file", str(wrong))
    assert refused.exit_code == ExitCode.ARCHIVE_INVALID and str(sealed) in refused.output
    assert "passphrase does not decrypt it" in refused.output
    no_tty = run("verify", str(sealed))
    assert no_tty.exit_code == ExitCode.USAGE and "--passphrase-file" in no_tty.output
    assert_no_secret(setup, packed.output, verified.output, refused.output)
    open_file = tmp_path / "open.txt"
    open_file.write_text(PASSPHRASE)
    open_file.chmod(0o644)
    assert run("verify", str(sealed), "--passphrase-file", str(open_file)).exit_code == ExitCode.USAGE


def test_encrypted_volumes(setup: dict, tmp_path: Path) -> None:
    encrypt(setup, "--volume-size", "20000")
    volumes = sorted(tmp_path.glob("acme.k2p.tar.age.[0-9][0-9][0-9]"))
    index = tmp_path / "acme.k2p.volumes"
    assert len(volumes) > 3 and json.loads(index.read_text())["encrypted"] is True
    for given in (volumes[0], index):
        report = json.loads(run("verify", "--json", str(given), "--identity", str(setup["key"])).output)
        assert report["status"] == "ok" and report["fingerprint"] == setup["fingerprint"]
    out = tmp_path / "out.k2p"
    assert run("unpack", str(volumes[0]), "-o", str(out), "--identity", str(setup["key"])).exit_code == 0
    assert tree_bytes(out, ".") == tree_bytes(setup["root"], ".")
    assert run("verify", str(volumes[2])).exit_code == 0    # a volume alone needs no key
    second = volumes[1]
    data = bytearray(second.read_bytes())
    data[100] ^= 0x01
    second.write_bytes(bytes(data))
    result = run("verify", str(index), "--identity", str(setup["key"]))
    assert result.exit_code == ExitCode.ARCHIVE_INVALID and "acme.k2p.tar.age.002" in result.output
    volumes[2].unlink()
    result = run("verify", str(index), "--identity", str(setup["key"]))
    assert result.exit_code == ExitCode.ARCHIVE_INCOMPLETE and "acme.k2p.tar.age.003 is missing" in result.output


def test_import_of_an_encrypted_archive_says_to_unpack_first(setup: dict) -> None:
    encrypt(setup)
    result = run("import", str(setup["dir"] / "acme.k2p.tar.age"), "--dry-run",
                 "--state", str(setup["dir"] / "l.sqlite"))
    assert result.exit_code == ExitCode.USAGE and "k2p unpack" in result.output


def test_bad_recipient_is_a_usage_error(setup: dict) -> None:
    result = run("pack", str(setup["root"]), "--encrypt-to", "age1notakey")
    assert result.exit_code == ExitCode.USAGE and "age1notakey" in result.output
    leaked = run("pack", str(setup["root"]), "--encrypt-to", str(setup["identity"]))
    assert leaked.exit_code == ExitCode.USAGE and str(setup["identity"]) not in leaked.output
    assert not list(setup["dir"].glob("*.age"))


AGE = shutil.which("age")


@pytest.mark.skipif(AGE is None, reason="the `age` binary is not installed (.ci/run installs Debian's "
                                        "`age` package); the interoperability check needs it")
def test_interop_with_the_age_tool(setup: dict, tmp_path: Path) -> None:
    encrypt(setup)
    sealed = tmp_path / "acme.k2p.tar.age"
    done = subprocess.run([AGE, "-d", "-i", str(setup["key"]), str(sealed)], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == setup["plain"].read_bytes()
    # volumes of ciphertext: cat them into `age -d`
    encrypt(setup, "-o", str(tmp_path / "v.k2p.tar.age"), "--volume-size", "30000")
    joined = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("v.k2p.tar.age.[0-9]*")))
    done = subprocess.run([AGE, "-d", "-i", str(setup["key"])], input=joined, capture_output=True)
    assert done.returncode == 0 and done.stdout == setup["plain"].read_bytes()
    # and the other way: a file `age` encrypted is read by k2p
    theirs = tmp_path / "theirs.k2p.tar.age"
    subprocess.run([AGE, "-r", setup["recipient"], "-o", str(theirs), str(setup["plain"])], check=True)
    result = run("verify", str(theirs), "--identity", str(setup["key"]))
    assert result.exit_code == 0 and setup["fingerprint"] in result.output
    keygen = shutil.which("age-keygen")
    if keygen:
        generated = tmp_path / "generated.txt"
        subprocess.run([keygen, "-o", str(generated)], check=True, capture_output=True)
        public = subprocess.run([keygen, "-y", str(generated)], check=True, capture_output=True,
                                text=True).stdout.strip()
        os.chmod(generated, 0o600)
        run("pack", str(setup["root"]), "-o", str(tmp_path / "g.k2p.tar.age"), "--encrypt-to", public)
        assert run("verify", str(tmp_path / "g.k2p.tar.age"), "--identity", str(generated)).exit_code == 0


def test_a_failing_sink_or_source_keeps_its_own_error() -> None:
    """Disk full under the encryptor is a local I/O error naming the file (exit 9); a volume that
    fails while being decrypted keeps its own message instead of "damaged ciphertext"."""
    from k2p.crypt.stream import DecryptingReader, EncryptingWriter
    from k2p.errors import K2PError, LocalIOError

    class Full:
        written = 0

        def write(self, data: bytes) -> int:
            self.written += len(data)
            if self.written > 3_000_000:
                raise OSError(28, "No space left on device", "/media/stick/acme.k2p.tar.age.002")
            return len(data)

    identity = x25519.Identity.generate()
    writer = EncryptingWriter(Full(), [identity.to_public()], "acme.k2p.tar.age")
    with pytest.raises(LocalIOError) as caught:
        for _ in range(10):
            writer.write(b"a" * 1_000_000)
        writer.close()
    assert caught.value.exit_code == ExitCode.LOCAL_IO
    assert "/media/stick/acme.k2p.tar.age.002" in caught.value.message and "No space" in caught.value.message

    class Vanishing:
        def read(self, size: int = -1) -> bytes:
            raise K2PError("acme.k2p.tar.age.002: shorter than the index says", exit_code=3)

    reader = DecryptingReader(Vanishing(), [identity], "acme.k2p.tar.age")   # type: ignore[arg-type]
    with pytest.raises(K2PError) as failed:
        reader.read()
    reader.close()
    assert failed.value.message == "acme.k2p.tar.age.002: shorter than the index says"


def test_passphrase_prompt_on_a_terminal(setup: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import k2p.crypt.keys as keys

    monkeypatch.setattr(keys, "_terminal", lambda: True)
    packed = CliRunner().invoke(main, ["pack", str(setup["root"]), "--passphrase"],
                                input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert packed.exit_code == 0, packed.output
    assert "Passphrase for" in packed.output and PASSPHRASE not in packed.output
    sealed = tmp_path / "acme.k2p.tar.age"
    asked = CliRunner().invoke(main, ["verify", str(sealed)], input=f"{PASSPHRASE}\n")
    assert asked.exit_code == 0 and setup["fingerprint"] in asked.output and PASSPHRASE not in asked.output
    mismatch = CliRunner().invoke(main, ["pack", str(setup["root"]), "-o", str(tmp_path / "m.k2p.tar.age"),
                                         "--passphrase"], input="one-passphrase\nanother-one\n"
                                                                "one-passphrase\none-passphrase\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert "values do not match" in mismatch.output     # asked again until both entries agree
    assert "one-passphrase" not in mismatch.output


def test_readers_of_an_encrypted_archive_write_nothing(setup: dict, tmp_path: Path) -> None:
    """verify, inspect and cat of an encrypted archive leave no file behind (no plaintext on disk):
    run as child processes with their own empty TMPDIR and working directory."""
    import sys

    encrypt(setup)
    sealed = tmp_path / "acme.k2p.tar.age"
    scratch, cwd = tmp_path / "tmp", tmp_path / "cwd"
    scratch.mkdir()
    cwd.mkdir()
    before = sorted(p for p in tmp_path.rglob("*"))
    env = {**os.environ, "TMPDIR": str(scratch), "K2P_AGE_IDENTITY": str(setup["key"])}
    for args in (["verify", str(sealed)], ["inspect", str(sealed)], ["cat", str(sealed), "cards"]):
        done = subprocess.run([sys.executable, "-m", "k2p.cli", *args], cwd=cwd, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    # diff would keep decrypted records in its temporary index: refused before it reads anything.
    done = subprocess.run([sys.executable, "-m", "k2p.cli", "diff", str(setup["root"]), str(sealed)],
                          cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == ExitCode.USAGE and "k2p unpack" in done.stderr
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_import_and_diff_refuse_any_encrypted_archive(setup: dict, tmp_path: Path) -> None:
    """Both keep a temporary index of records on disk: a passphrase archive (readable in memory)
    is refused like one for recipients, before anything is read or written."""
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSPHRASE + "\n")
    secret.chmod(0o600)
    assert run("pack", str(setup["root"]), "--passphrase-file", str(secret)).exit_code == 0
    sealed = tmp_path / "acme.k2p.tar.age"
    for args in (["import", str(sealed), "--dry-run", "--state", str(tmp_path / "l.sqlite")],
                 ["diff", str(setup["root"]), str(sealed)]):
        result = run(*args)
        assert result.exit_code == ExitCode.USAGE and "k2p unpack" in result.output, result.output
    assert not (tmp_path / "l.sqlite").exists()
