"""A libFuzzer target that also runs as a regression test in every build.

fuzz_target(name = "x_fuzzer", srcs = [...], deps = [...], corpus = glob([...]))
creates
- `x_fuzzer`: with --config=fuzz a libFuzzer binary (clang 14); otherwise a plain
  binary that runs the files named on its command line once each;
- `x_fuzzer_regression_test`: a gtest that runs every file of `corpus` through the
  target, so the seeds (and any crash once fixed and added) never regress.
"""

def fuzz_target(name, srcs, deps = [], corpus = []):
    native.cc_binary(
        name = name,
        testonly = True,
        srcs = srcs,
        deps = deps + select({
            "//tests/fuzz:libfuzzer": [],
            "//conditions:default": ["//tests/fuzz:standalone_main"],
        }),
        linkopts = select({
            "//tests/fuzz:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
    )
    native.cc_test(
        name = name + "_regression_test",
        size = "small",
        srcs = srcs,
        data = corpus,
        args = ["$(location %s)" % f for f in corpus],
        deps = deps + ["//tests/fuzz:regression_main"],
    )
