# Suite dp: the element manifests render with Jinja (the same script the meson
# target uses) and parse as YAML with the expected resources: the type
# registration of the plugin artifact (in the build tree: equal to the built
# plugin's descriptor, docs/type-registration.md §5), all nine IAM permissions each with its
# owner-role binding, the version exim4_1 and its export, and the example
# instance importing it. Also the build tree's rendered copies and exordos.yaml.
import ctypes
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkgtest  # noqa: E402

try:
    import yaml
    import jinja2  # noqa: F401
except ImportError as e:
    pkgtest.peer_missing(f"python3-jinja2/python3-yaml ({e})")

METAPAAS_PROJECT = "4d657461-0000-0000-0000-000000000002"
# upstream's EM project: what the core agent's version filter holds (issue 14 #3)
EM_PROJECT = "12345678-c625-4fee-81d5-f691897b8142"
OWNER_ROLE = "726f6c65-0000-0000-0000-000000000002"
PERMISSIONS = [f"exordos_mail.mail_instance.{a}" for a in ("create", "read", "update", "delete")] + \
    [f"exordos_mail.account.{a}" for a in ("create", "read", "update", "delete")] + \
    ["exordos_mail.mail_version.read"]
EXORDOS = os.path.join(pkgtest.SOURCE_ROOT, "exordos")
RENDER = os.path.join(EXORDOS, "render-manifests.py")
TEMPLATES = [os.path.join(EXORDOS, "manifests", n)
             for n in ("mailaas.yaml.j2", "example_mail.yaml.j2")]


def render(outdir, *variables):
    argv = [sys.executable, RENDER, "--outdir", outdir]
    for v in variables:
        argv += ["--var", v]
    return pkgtest.run(argv + TEMPLATES)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def check_type(t, res):
    mail = res.get("$metapaas.types", {}).get("mail", {})
    t.eq(mail.get("name"), "mail", "type registration: slug mail")
    t.eq(mail.get("element_name"), "mailaas", "type registration: element mailaas")
    t.eq(mail.get("package"), "libexordos_paas_mail.so", "type registration: plugin artifact")
    t.eq(mail.get("project_id"), METAPAAS_PROJECT, "type registration: MetaPaaS project")
    t.eq(mail.get("version"), "1.2.3", "type registration: version defaults to the element's")
    t.ok("index_url" not in mail, "type registration: no index_url (the host installs nothing)")


def check_iam(t, res):
    perms = res.get("$core.iam.permissions", {})
    binds = res.get("$core.iam.permissionbinding", {})
    t.eq(sorted(p.get("name") for p in perms.values()), sorted(PERMISSIONS),
         "exactly the nine exordos_mail permissions")
    t.eq(len(binds), len(perms), "one binding per permission")
    for key, perm in perms.items():
        b = binds.get(f"{key}_binding", {})
        t.ok(b.get("role") == OWNER_ROLE and b.get("project_id") == METAPAAS_PROJECT
             and b.get("permission") == f"$core.iam.permissions.${key}:uuid",
             f"{perm.get('name')}: bound to the owner role in the MetaPaaS project", b)


def check_mailaas(t, doc):
    t.eq(doc.get("name"), "mailaas", "mailaas: element name")
    t.eq(doc.get("version"), "1.2.3", "mailaas: version variable")
    t.eq(sorted(doc.get("requirements", {})), ["core", "metapaas"], "mailaas: requires core and metapaas")
    res = doc.get("resources", {})
    check_type(t, res)
    check_iam(t, res)
    v = res.get("$mailaas.types.mail.versions", {}).get("exim4_1", {})
    t.eq(v.get("name"), "exim4_1", "version exim4_1")
    t.eq(v.get("description"), EM_PROJECT, "version description = the EM project of the core agent filter")
    t.eq(v.get("image"),
         "http://repo.test/elements/mailaas/1.2.3/images/exordos-metapaas-mail-dp.raw.zst",
         "version image = the DP image of this element version")
    t.eq(doc.get("exports"), {"exim4_1": {"link": "$mailaas.types.mail.versions.$exim4_1"}},
         "exports exim4_1")


def check_example(t, doc, mailaas):
    t.eq(doc.get("name"), "example_mail", "example: element name")
    t.ok("mailaas" in doc.get("requirements", {}), "example: requires mailaas")
    imp = doc.get("imports", {}).get("exim4_1", {})
    t.eq(imp.get("link"), mailaas["exports"]["exim4_1"]["link"], "example: imports the exported version")
    t.eq(imp.get("element"), "$mailaas", "example: import from element mailaas")
    inst = doc.get("resources", {}).get("$mailaas.types.mail.instances", {}).get("example_mail", {})
    t.eq(sorted(inst), sorted(["name", "project_id", "domain", "cpu", "ram", "disk_size", "version"]),
         "example: instance has the create-body fields of the seed README")
    t.ok(all(isinstance(inst.get(k), int) for k in ("cpu", "ram", "disk_size")), "example: sizes are integers")
    t.eq(inst.get("domain"), "example.local", "example: default domain")
    t.eq(inst.get("version"), "$example_mail.imports.$exim4_1:uuid", "example: version from the import")


def check_rendering(t):
    with pkgtest.TempDir() as d:
        r = render(d, "version=1.2.3", "repository=http://repo.test/elements")
        if not t.ok(r.returncode == 0, "templates render", r.stderr):
            return
        mailaas = load(os.path.join(d, "mailaas.yaml"))
        check_mailaas(t, mailaas)
        check_example(t, load(os.path.join(d, "example_mail.yaml")), mailaas)
        r = render(d, "version=1.2.3", "plugin_version=0.9.1")
        t.eq(load(os.path.join(d, "mailaas.yaml"))["resources"]["$metapaas.types"]["mail"]["version"],
             "0.9.1", "type registration: plugin_version variable")
        r = render(d, "version=1.2.3", "domain=mail.example.org")
        t.eq(load(os.path.join(d, "example_mail.yaml"))["resources"]["$mailaas.types.mail.instances"]
             ["example_mail"]["domain"], "mail.example.org", "example: domain variable")
        t.ok("https://repo.exordos.com/exordos-elements/mailaas/1.2.3/"
             in load(os.path.join(d, "mailaas.yaml"))["resources"]["$mailaas.types.mail.versions"]
             ["exim4_1"]["image"], "default repository")
    with pkgtest.TempDir() as d:
        r = render(d)
        t.ok(r.returncode != 0 and "version" in r.stderr, "rendering without version fails", r.stderr)
        t.ok(not os.path.exists(os.path.join(d, "mailaas.yaml")), "a failed render leaves no output")
        r = render(d, "version")
        t.ok(r.returncode != 0, "a malformed --var is refused")


def check_build_tree(t):
    path = os.path.join(pkgtest.BUILD_ROOT, "exordos", "mailaas.yaml")
    if not pkgtest.BUILD_ROOT or not os.path.exists(path):
        t.note("build tree has no rendered manifests (jinja2 missing at configure time?)")
        t.ok(False, "meson target rendered the manifests into the build tree", path)
        return
    doc = load(path)
    t.ok(doc.get("name") == "mailaas" and doc.get("version"), "build tree: mailaas.yaml rendered")
    t.ok(load(os.path.join(pkgtest.BUILD_ROOT, "exordos", "example_mail.yaml")).get("name")
         == "example_mail", "build tree: example_mail.yaml rendered")


class Descriptor(ctypes.Structure):
    # the leading members of ExordosPaasPluginDescriptor (plugin/exordos-paas-plugin.h)
    _fields_ = [("abi_major", ctypes.c_uint32), ("abi_minor", ctypes.c_uint32),
                ("struct_size", ctypes.c_size_t), ("slug", ctypes.c_char_p),
                ("element", ctypes.c_char_p), ("version", ctypes.c_char_p)]


def descriptor_of(so):
    """The plugin's slug, element and version, read through its entry point."""
    lib = ctypes.CDLL(so)
    get = lib.exordos_paas_plugin_get_descriptor
    get.restype = ctypes.POINTER(Descriptor)
    desc = get().contents
    return {"slug": desc.slug.decode(), "element": desc.element.decode(),
            "version": desc.version.decode()}


def read_descriptor(so):
    """descriptor_of() in a child: a sanitizer build's plugin needs the ASan
    runtime loaded first, which only LD_PRELOAD gives a Python process."""
    env = dict(os.environ)
    ldd = subprocess.run(["ldd", so], capture_output=True, text=True).stdout
    asan = re.search(r"libasan\.so\S* => (\S+)", ldd)
    if asan:
        env["LD_PRELOAD"] = asan.group(1)
        env["ASAN_OPTIONS"] = "detect_leaks=0"  # the interpreter's, not ours
    code = ("import json, sys; sys.path.insert(0, %r); import importlib.util as u; "
            "s = u.spec_from_file_location('m', %r); m = u.module_from_spec(s); "
            "s.loader.exec_module(m); print(json.dumps(m.descriptor_of(%r)))"
            % (os.path.dirname(__file__), __file__, so))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def check_descriptor(t):
    """The build tree's registration row is what the built plugin says it is."""
    so = os.path.join(pkgtest.BUILD_ROOT, "plugin", "libexordos_paas_mail.so")
    path = os.path.join(pkgtest.BUILD_ROOT, "exordos", "mailaas.yaml")
    if not os.path.exists(so) or not os.path.exists(path):
        t.ok(False, "build tree: the plugin and the rendered manifest exist", so)
        return
    desc = read_descriptor(so)
    mail = load(path)["resources"]["$metapaas.types"]["mail"]
    t.eq(mail.get("name"), desc["slug"], "manifest name = descriptor slug")
    t.eq(mail.get("element_name"), desc["element"], "manifest element_name = descriptor element")
    t.eq(mail.get("version"), desc["version"], "manifest version = descriptor version")
    t.eq(mail.get("package"), os.path.basename(so), "manifest package = the plugin's file name")


def check_exordos_yaml(t):
    cfg = load(os.path.join(EXORDOS, "exordos.yaml"))["build"]
    manifests = [e.get("manifest") for e in cfg.get("elements", [])]
    t.eq(manifests, ["manifests/mailaas.yaml.j2", "manifests/example_mail.yaml.j2"],
         "exordos.yaml: the two elements")
    t.ok(all(os.path.exists(os.path.join(EXORDOS, m)) for m in manifests), "exordos.yaml: manifests exist")
    images = [i for e in cfg["elements"] for i in e.get("images", [])]
    t.eq([(i.get("name"), i.get("profile"), i.get("script")) for i in images],
         [("exordos-metapaas-mail-dp", "exordos_base", "images/dp_install.sh")],
         "exordos.yaml: one DP image from exordos_base built by images/dp_install.sh")
    t.ok(os.access(os.path.join(EXORDOS, "images", "dp_install.sh"), os.X_OK), "dp_install.sh is executable")
    deps = cfg.get("deps", [])
    t.ok(any(d.get("dst") == "/opt/exordos_mail" for d in deps),
         "exordos.yaml: the repository lands where dp_install.sh builds it")


def main():
    t = pkgtest.Tap()
    check_rendering(t)
    check_build_tree(t)
    check_descriptor(t)
    check_exordos_yaml(t)
    t.done()


if __name__ == "__main__":
    main()
