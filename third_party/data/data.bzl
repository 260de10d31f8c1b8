"""Repository rule exposing tools/setup.sh's data cache to Bazel as @bilevel_data.

The cache is BILEVEL_DATA_DIR, else $HOME/.cache/hessian-free-bilevel. Its files become declared
inputs of the experiment actions, so changing a data file reruns exactly the experiments that
read it. When the cache is missing, the targets still exist but hold a file explaining how to
fetch the data, and the experiments fail with that message.
"""

def _bilevel_data_impl(ctx):
    root = ctx.os.environ.get("BILEVEL_DATA_DIR", "")
    if not root:
        root = ctx.os.environ.get("HOME", "/root") + "/.cache/hessian-free-bilevel"
    manifest = ctx.path(root + "/CHECKSUMS.md5")
    if manifest.exists:
        for name in ["mnist", "fashion-mnist", "fortunes", "CHECKSUMS.md5"]:
            ctx.symlink(root + "/" + name, name)
        # The Omniglot stand-in (35,000 PNGs) is its own filegroup: only few-shot reads it.
        if ctx.path(root + "/omniglot-standin/CHECKSUMS.md5").exists:
            ctx.symlink(root + "/omniglot-standin", "omniglot-standin")
    else:
        ctx.file("MISSING", "The data cache %s is missing: run tools/setup.sh.\n" % root)
    ctx.file("BUILD", """
package(default_visibility = ["//visibility:public"])

filegroup(
    name = "all",
    srcs = glob(["CHECKSUMS.md5", "mnist/**", "fashion-mnist/**", "fortunes/**", "MISSING"]),
)

filegroup(
    name = "omniglot",
    srcs = glob(["omniglot-standin/**", "MISSING"]),
)

# The folder to pass as --data_dir: dirname of this file.
filegroup(
    name = "root_marker",
    srcs = glob(["CHECKSUMS.md5", "MISSING"]),
)
""")

bilevel_data_repository = repository_rule(
    implementation = _bilevel_data_impl,
    environ = ["BILEVEL_DATA_DIR", "HOME"],
    local = True,
)
