#!/usr/bin/python3
# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
#
# Writes the seed corpus of the fuzz suite (tests/fuzz/corpus/<target>/), small
# valid and near-valid inputs from the spec vectors and the unit tests.  The
# output is committed; run this only to change the seeds:
#   /usr/bin/python3 tests/fuzz/make-corpus.py
# Needs python3-cryptography (the envelope seeds are sealed by it, so they also
# prove that the C envelope opens what Python seals).
import os
import shutil

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

SHA512 = ("$6$saltsaltsalt$PMWE8DTlam1JU37Piyk43bHcMxTJq6sgu5DKB0/tGPjanN35jcY68QkpD"
          "fPFUGPWX5uCxIQkSPzMmqEiVNgts.")
SHA256 = "$5$rounds=1000$abcdefgh$XIppta5rT8zJUu4vAOKQXrwq9uY4Ijlz6VjyOmkx5i4"
YESCRYPT = "$y$j9T$abcdefghijklmnopqrstu.$7uryFExhLbAhrpK1WytVzeNObCUVaK3VoKccP3fJEIB"
BCRYPT = "$2b$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW"
SCRYPT = "$7$CU..../....abcdefghijklmnop$XFPPWJganQ6Nq0QhVHxk/yHxMXizE0OJDowAsO4.RIA"
UUID = "84fe6e92-5b3c-4a1b-a124-de76b7b6c788"
UUID2 = "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890"

SEEDS = {
    "json": [
        "{}", "[]", "null", "true", "0", "-0", "1.5", "1e3", "-12.5e-3", "\"x\"",
        "9223372036854775807", "-9223372036854775808", "1.7976931348623157e308",
        "{\"b\":true,\"d\":{\"a\":2,\"z\":1},\"f\":1.5,\"l\":[3,\"x\"],\"n\":null,\"s\":\"\\u00e9\"}",
        "{\"emoji\":\"\\ud83d\\ude00\",\"raw\":\"\u00e9\u4e2d\",\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u001f\"}",
        " [ 1 , [ [ [ ] ] ] , { \"k\" : [ ] } ] \n",
        "{\"a\":1,\"a\":2}",
        "{\"name\":\"mail\",\"cpu\":1,\"ram\":1024,\"ipsv4\":[\"10.0.0.1\"]}",
        # near-valid
        "{\"a\":1,}", "[1 2]", "\"\\u0000\"", "\"\\ud800\"", "01", "1.", "NaN", "{'a':1}",
        "9223372036854775808", "1e999", "[", "{\"a\"", "\"\xff\"",
        # objects one and two levels down, which the target also parses raw:
        # doubles, a repeated name, escapes, white space
        "{\"v\": {\"b\":2.50, \"a\":-0.0, \"c\":[1e-7,{\"y\":1,\"x\":\"\\u00e9\\n\",\"x\":\"z\"}],"
        " \"a\":3, \"k\":{\"E\":1E+2, \"\\u0041\":true}}}",
    ],
    "rest": [
        # byte 0 % 8: GET POST PUT PATCH DELETE HEAD OPTIONS get
        "\x00instances/\n\n",
        "\x00instances/\npage_limit=2&sort_key=name&sort_dir=desc\n",
        "\x00instances/\nname=a&name=b&cpu=1&active=true&version=/v1/types/mail/versions/" + UUID + "\n",
        "\x00instances/\nproject_id=" + UUID + "&page_marker=" + UUID + "&fields=name\n",
        "\x00instances/" + UUID + "\n\n",
        "\x00instances/" + UUID + "/actions/dns\n\n",
        "\x00instances/" + UUID + "/accounts/\n\n",
        "\x00instances/" + UUID + "/accounts/" + UUID2 + "\n\n",
        "\x00versions/\nname=x\n",
        "\x00\n\n",
        "\x01instances/\n\n{\"name\":\"mail\",\"project_id\":\"" + UUID + "\",\"domain\":\"example.com\","
        "\"cpu\":1,\"active\":true,\"description\":null,\"password\":\"s3cret\","
        "\"version\":\"/v1/types/mail/versions/" + UUID2 + "\"}",
        "\x01instances/\n\n{\"uuid\":\"" + UUID.upper() + "\",\"name\":\"x\"}",
        "\x01instances/\n\n{\"name\":\"x\",\"status\":\"ACTIVE\"}",
        "\x02instances/" + UUID + "\n\n{\"name\":\"y\",\"cpu\":2}",
        "\x03instances/" + UUID + "\n\n{\"description\":\"d\",\"password\":\"p\"}",
        "\x04instances/" + UUID + "/accounts/" + UUID2 + "\n\n",
        "\x05instances/\n\n",
        "\x00instances/{" + UUID + "}\nsort_key=uuid&sort_dir=asc\n",
        "\x00instances/urn:uuid:" + UUID + "\npage_limit=-1\n",
        "\x00access-keys/\n\n",
        "\x01instances/\n\n{\"name\":1,\"cpu\":\"1\",\"active\":0,\"ipsv4\":[1]}",
        "\x01instances/\n\n{\"created_at\":\"2026-05-01T10:00:00.123456Z\",\"unknown\":1}",
        # the path and query lines also go through the UUID and timestamp parsers
        "\x00{" + UUID.upper() + "}\n2026-05-01 10:00:00.123456\n",
        "\x00urn:uuid:" + UUID.replace("-", "") + "\n2026-05-01T10:00:00.1Z\n",
        "\x01instances/\n9999-12-31T23:59:59.999999Z\n{\"name\":\"x\",\"expires_at\":\"2026-05-01T10:00:00.123456Z\"}",
        "\x02instances/" + UUID + "\n0001-01-01 00:00:00.0\n{\"expires_at\":null}",
    ],
    "passwd": [
        "alice@example.com:" + SHA512 + "\nbob@example.com:" + YESCRYPT + "\n",
        "# comment\n\ncarol@mail.example.org:{SHA512-CRYPT}" + SHA512 + "\r\n",
        "dave@example.com:" + BCRYPT + "\nerin@example.com:" + SHA256 + "\nfrank@example.com:" + SCRYPT + "\n",
        "Alice@Example.COM:" + SHA512 + "\n",
        "a@b.c:x\nno-at:y\nnocolon\n@:z\n",
        "x@example.com:" + SHA512 + ":extra\n",
        "",
    ],
    "env": [
        "MAIL_DOMAIN=example.com\n", "MAIL_DOMAIN=example.com", "MAIL_DOMAIN=\"example.com\"\n",
        "MAIL_DOMAIN='example.com'\n", "# comment\n\n  MAIL_DOMAIN=Example.COM  \n# end\n",
        "\tMAIL_DOMAIN=a.b\n", "", "MAIL_DOMAIN=\n", "MAIL_DOMAIN=example.com\nMAIL_DOMAIN=evil.com\n",
        "MAIL_DOMAIN=example.com\nOTHER=1\n", "MAIL_DOMAIN=\"example.com\n",
        "MAIL_DOMAIN=$(id).com\n", "MAIL_DOMAIN=example.com.\n", "MAIL_DOMAIN=xn--80ak6aa92e.com\n",
    ],
    "dkim": [
        "platform._domainkey\tIN\tTXT\t( \"v=DKIM1; h=sha256; k=rsa; \"\n\t  \"p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\" )  ; ----- DKIM key platform for example.com\n",
        "\"v=DKIM1; p=ABC\"", "", "\"unterminated", "\"a\" \"b\" \"c", "  \"  spaced  \"  ",
        "mail._domainkey IN TXT \"v=DKIM1; k=rsa; \" \"p=" + "A" * 300 + "\"\n",
    ],
    "hash": [
        SHA512, SHA256, YESCRYPT, BCRYPT, SCRYPT,
        "$gy$j9T$abcdefghijklmnopqrstu.$7uryFExhLbAhrpK1WytVzeNObCUVaK3VoKccP3fJEIB",
        "$2y$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW",
        "{SHA512-CRYPT}" + SHA512, "{SHA256-CRYPT}" + SHA256, "{BLF-CRYPT}" + BCRYPT, "{CRYPT}" + YESCRYPT,
        "$6$rounds=1000$saltsaltsalt$eX3bxJXT3.ujpABOqZ7ph4r9D9Fn0.qoDqJgZU6cTq8xPfk2.Fmq2bf1GgjAlb6X1QXE7sMOtwZRTxjI1OZvT1",
        "$6$rounds=5000$saltsaltsalt$PMWE8DTlam1JU37Piyk43bHcMxTJq6sgu5DKB0/tGPjanN35jcY68QkpDfPFUGPWX5uCxIQkSPzMmqEiVNgts.",
        # near-valid
        "$1$abc$def", "{SHA256-CRYPT}" + SHA512, "$2b$31$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW",
        SHA512 + ":x", "$6$salt$short", "plain",
    ],
    "captured": [
        "{\"messages\": []}",
        "{\"messages\": [{\"id\": \"1tKq2x-0004Ab-Cd\", \"account\": \"stage@example.com\", "
        "\"time\": \"2026-12-05T10:00:00.000000Z\", \"size\": 1234, \"from\": \"stage@example.com\", "
        "\"to\": [\"someone@example.net\"], \"subject\": \"Hello\", \"message_id\": \"<abc@example.com>\", "
        "\"dkim\": \"pass\", \"dkim_detail\": \"d=example.com s=platform\", \"raw\": \"SGVsbG8=\"}]}",
        "{\"messages\": [{\"id\": \"1tKq2x-0004Ab-Ce\", \"account\": \"a.b+c@EXAMPLE.com\", "
        "\"time\": \"2026-12-05T10:00:00Z\", \"size\": 0, \"dkim\": \"none\"}, "
        "{\"id\": \"1tKq2y-0004Ab-Cf\", \"account\": \"x@example.com\", \"time\": "
        "\"2026-12-05T10:00:01.000000Z\", \"size\": 9, \"dkim\": \"fail\", \"raw\": \"QQ==\"}]}",
        # near-valid
        "{\"messages\": [{\"id\": \"1tKq2x-0004Ab-Cd\", \"account\": \"stage@example.org\", "
        "\"time\": \"2026-12-05T10:00:00Z\", \"size\": 1, \"dkim\": \"pass\"}]}",
        "{\"messages\": [{\"id\": \"1tKq2x-0004Ab-Cd\", \"account\": \"stage@example.com\", "
        "\"time\": \"2026-12-05T10:00:00Z\", \"size\": 1, \"dkim\": \"pass\", \"raw\": \"QQ=\"}]}",
        "{\"messages\": {}}",
    ],
    "node": [
        "{\"uuid\":\"" + UUID + "\",\"name\":\"mail\",\"domain\":\"example.com\",\"accounts\":{"
        "\"alice\":{\"password_hash\":\"" + SHA512 + "\",\"active\":true},"
        "\"bob\":{\"password_hash\":\"{SHA512-CRYPT}" + SHA512 + "\",\"active\":false},"
        "\"carol.x+y\":{\"password_hash\":\"" + YESCRYPT + "\",\"active\":true}}}",
        "{\"uuid\":\"" + UUID.upper() + "\",\"name\":\"n\",\"domain\":\"Example.COM\",\"accounts\":{},"
        "\"status\":\"ACTIVE\",\"dkim_selector\":\"platform\"}",
        "{\"uuid\":\"" + UUID + "\",\"name\":\"m\",\"domain\":\"mail.example.org\",\"accounts\":{"
        "\"dave\":{\"password_hash\":\"" + BCRYPT + "\",\"active\":true},"
        "\"erin\":{\"password_hash\":\"" + SHA256 + "\",\"active\":true},"
        "\"Frank\":{\"password_hash\":\"" + SCRYPT + "\",\"active\":true}}}",
        "{\"uuid\":\"" + UUID + "\",\"name\":\"m\",\"domain\":\"example.com\",\"accounts\":{"
        "\"x\":{\"password_hash\":\"" + SHA512 + "\\nevil@example.com:" + SHA512 + "\",\"active\":true}}}",
        "{\"uuid\":\"" + UUID + "\",\"name\":\"m\",\"domain\":\"example.com\",\"accounts\":{"
        "\"X\":{\"password_hash\":\"" + SHA512 + "\",\"active\":true},\"x\":{\"password_hash\":\"" + SHA512 + "\",\"active\":1}}}",
        # rotation and expiry (docs/abuse-controls.md §5)
        "{\"uuid\":\"" + UUID + "\",\"name\":\"m\",\"domain\":\"example.com\",\"accounts\":{"
        "\"rot\":{\"password_hash\":\"" + YESCRYPT + "\",\"active\":true,\"previous_password_hash\":\""
        "{SHA512-CRYPT}" + SHA512 + "\",\"previous_until\":1800000000,\"expires_at\":1900000000},"
        "\"exp\":{\"password_hash\":\"" + SHA512 + "\",\"active\":true,\"expires_at\":5,\"senders\":[\"exp@example.com\"]}}}",
        # a tenant's certificate (docs/tls.md §3)
        "{\"uuid\":\"" + UUID + "\",\"name\":\"m\",\"domain\":\"example.com\",\"accounts\":{},"
        "\"tls_custom\":{\"chain\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\","
        "\"key\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n\"}}",
        # the sandbox and the breaker's action, names out of byte order (the
        # agent reads the accounts raw, docs/scale.md §3)
        "{\"uuid\":\"" + UUID + "\",\"name\":\"m\",\"domain\":\"example.com\",\"accounts\":{"
        "\"zed\":{\"active\":false,\"password_hash\":\"" + SHA512 + "\",\"sandbox\":true},"
        "\"amy\":{\"password_hash\":\"" + SHA512 + "\",\"active\":true,\"breaker_action\":"
        "{\"op\":\"release\",\"token\":\"" + UUID2 + "\"},\"messages_per_hour\":3}}}",
    ],
    "payload": [
        "{\"capabilities\": {\"demo_vm\": {\"resources\": [{"
        "\"uuid\": \"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\", \"kind\": \"demo_vm\","
        "\"res_uuid\": \"bce5d269-12be-52b0-90df-0191f1a39ace\","
        "\"value\": {\"uuid\": \"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\", \"name\": \"vm\", "
        "\"cores\": 1, \"ram\": 1024},"
        "\"hash\": \"e5ecd78270703c31\", \"full_hash\": \"8e9ed58523af9b50\", \"status\": \"ACTIVE\","
        "\"created_at\": \"2026-05-01 10:00:00.123456\", \"updated_at\": \"2026-05-01 10:00:05.000001\"}]}},"
        "\"facts\": {\"demo_vm\": {\"resources\": [{"
        "\"uuid\": \"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\", \"kind\": \"demo_vm\","
        "\"res_uuid\": \"bce5d269-12be-52b0-90df-0191f1a39ace\","
        "\"value\": {\"uuid\": \"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\", \"name\": \"vm\", \"cores\": 1,"
        "\"ram\": 1024, \"status\": \"ACTIVE\", \"created_at\": \"2022-01-01 00:00:00.000000\"},"
        "\"hash\": \"e5ecd78270703c31\", \"full_hash\": \"8e9ed58523af9b50\", \"status\": \"ACTIVE\","
        "\"created_at\": \"2026-05-01 10:00:03.000000\", \"updated_at\": \"2026-05-01 10:00:03.000000\"}]}},"
        "\"hash\": \"37a273eaeebbb63f\", \"version\": 0}",
        "{\"capabilities\":{},\"facts\":{},\"hash\":\"\",\"version\":0}",
        "{\"capabilities\":{\"mail_instance_node\":{\"resources\":[{\"uuid\":\"" + UUID + "\","
        "\"value\":{\"uuid\":\"" + UUID + "\",\"name\":\"m\",\"domain\":\"example.com\",\"accounts\":{}},"
        "\"hash\":\"\",\"full_hash\":\"\"}]}},\"hash\":\"abc\",\"version\":1}",
        "{\"capabilities\":{\"bad/kind\":{\"resources\":[]}},\"facts\":{},\"hash\":\"\",\"version\":0}",
        "{\"capabilities\":{\"k\":{\"resources\":[{\"uuid\":\"nope\",\"value\":{}}]}},\"hash\":\"\",\"version\":0}",
        "{\"hash\":\"x\",\"version\":-1}",
    ],
    "selftest": ["plain ASCII seed"],
    "validate": [
        "example.com", "Mail.Example.ORG", "a.b", "xn--80ak6aa92e.com", "a-b.c-d.e", "1.2.3.4",
        "10.0.0.1", "255.255.255.255", "0.0.0.0", "010.0.0.1", "1.2.3", "256.1.1.1",
        "alice", "Bob.Smith+tag", "_x", ".dot", "a" * 64, "platform", "default-2026",
        "My instance", "caf\u00e9", "tab\there", "example.com.", "-bad.com", "a_b.com", "",
    ],
    # the text after `=>` of delivery lines (issue 22 item 6, tests/unit/test-dp-logstats.c)
    "logstats": [
        " someone@a.dane.test F=<mia@example.com> R=dnslookup T=remote_smtp H=mx-a.dane.test DS "
        "[192.0.2.25] I=[192.0.2.25] X=TLS1.3:ECDHE_SECP256R1__ECDSA_SECP256R1_SHA256__AES_256_GCM:256 "
        "CV=dane DN=\"CN=mx-a.dane.test\" C=\"250 2.0.0 stored\"",
        " someone@c.dane.test F=<mia@example.com> R=dnslookup T=remote_smtp H=mx-c.dane.test "
        "[192.0.2.27] X=TLS1.2:ECDHE_RSA_AES_128_GCM_SHA256:128 CV=no C=\"250 OK\"",
        " \"a X=TLS1.0 CV=dane\"@r.test F=<\"b H=x DS X=SSL3 CV=dane\"@example.com> R=dnslookup "
        "T=remote_smtp H=mx.r.test [192.0.2.1] C=\"250 X=TLS1.0 CV=dane\"",
        " x@r.test R=dnslookup T=remote_smtp H=mx.r.test [192.0.2.1] X=TLS1.3:x:256 CV=no "
        "DN=\"CN=evil CV=dane X=SSL3\" C=\"250 OK\"",
        " x@r.test R=sandbox T=sandbox_smtp H=127.0.0.5 [127.0.0.5] C=\"250 OK\"",
        " x@r.test R=capture T=capture_file", " \"unterminated F=<\\\" H=", "",
        "2026-12-05 13:15:15 1xZpbf-0000lW-1W H=mx-d.dane.test [192.0.2.28]: a TLS session is "
        "required, but the server did not offer TLS support",
    ],
    "template": [
        "value\nprimary_hostname = @HOSTNAME@\ndomainlist local_domains = @DOMAIN@\n@EXTRA_MACROS@\n"
        "# exim's own @ stays: ${lookup{$local_part@$domain}lsearch{/etc/exim4/passwd}}\nx = @VALUE@\n",
        "A=1;B=2\n@EXTRA_MACROS@\n@VALUE@\n",
        "bad$value\n@VALUE@\n", "ok\n@UNKNOWN@\n", "ok\n@@DOMAIN@@ @ @A@B@ @domain@\n", "\n",
        "x{y}\n@EXTRA_MACROS@\n",
    ],
}

KEY = bytes(range(32))
PLAINTEXTS = [b"null", b"{\"hash\":\"\",\"version\":0}", b""]


def envelope_seeds():
    import base64
    out = []
    for k, plain in enumerate(PLAINTEXTS):
        nonce = bytes([k + 1]) * 12
        wire = ChaCha20Poly1305(KEY).encrypt(nonce, plain, None)
        out.append(base64.b64encode(nonce) + wire)
    # near-valid: a header of the wrong length, a body shorter than the tag
    out.append(b"AQEBAQEBAQEBAQE" + b"x" * 20)
    out.append(base64.b64encode(bytes(12)) + b"short")
    return out


def cert_seeds():
    # issue 22: the unit suite's real chains (tests/unit/tls), good and refused
    tls = os.path.join(os.path.dirname(HERE), "..", "unit", "tls")

    def read(name):
        with open(os.path.join(tls, name), "rb") as f:
            return f.read()

    full = read("rsa.pem") + read("inter.pem") + read("root.pem")
    return [
        full + b"\0" + read("rsa.key"),
        read("ec384.pem") + read("inter.pem") + read("root.pem") + b"\0" + read("ec384.key"),
        full + b"\0" + read("stranger.key"),
        read("rsa.pem") + read("root.pem") + b"\0" + read("rsa.key"),
        read("rsa.pem") + read("root.pem") + read("inter.pem") + b"\0" + read("rsa.key"),
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n\0"
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ]


def write(target, items):
    d = os.path.join(HERE, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i, item in enumerate(items):
        data = item if isinstance(item, bytes) else item.encode("utf-8", "surrogateescape")
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(data)


def main():
    for target, items in SEEDS.items():
        write(target, items)
    write("envelope", envelope_seeds())
    write("cert", cert_seeds())


if __name__ == "__main__":
    main()
