"""libFuzzer targets built with clang-14, ASan and UBSan beside the gcc build (build_fuzzer.sh).

Bazel 4's C++ rules compile with one toolchain per build (gcc here), so the fuzzers are built by
genrules that call clang directly on declared sources: the sandbox sees only those, and the outputs
are cached like any other action.

    fuzz_archive(name = "readers", srcs = ["//tasks/data:reader_sources"])
    fuzz_test(name = "idx_fuzzer", src = "idx_fuzzer.cc", deps = [":readers"],
              hdrs = ["//tasks/data:reader_headers"], corpus = "corpus/idx")

Every target is tagged "fuzz": `bazel query 'attr(tags, fuzz, //...)'` lists them.
"""

_BUILD = "//tests/fuzz:build_fuzzer.sh"

def fuzz_archive(name, srcs):
    """Instrumented objects of `srcs` (.cc and .h), compiled once, as `name`.a."""
    native.genrule(
        name = name,
        srcs = srcs,
        outs = [name + ".a"],
        cmd = "$(location %s) $@ $(SRCS)" % _BUILD,
        tools = [_BUILD],
        tags = ["fuzz"],
    )

def fuzz_test(name, src, deps, hdrs, corpus, seconds = 5):
    """A libFuzzer binary from `src` and the archives `deps`, run `seconds` on `corpus` as a test."""
    native.genrule(
        name = name + "_binary",
        srcs = [src, "//tests/fuzz:fuzz_support.h"] + deps + hdrs,
        outs = [name + "_bin"],
        cmd = "$(location %s) $@ $(SRCS)" % _BUILD,
        tools = [_BUILD],
        tags = ["fuzz"],
    )
    native.sh_test(
        name = name,
        size = "small",
        srcs = ["//tests/fuzz:run_fuzzer.sh"],
        args = [
            "$(location :%s_bin)" % name,
            str(seconds),
            "$(location %s)" % (corpus + "/README"),
        ],
        data = [":%s_bin" % name] + native.glob([corpus + "/**"]),
        tags = ["fuzz"],
    )
