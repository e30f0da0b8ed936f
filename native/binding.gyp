{
  "targets": [{
    "target_name": "kdqat_native",
    "sources": ["src/addon.cc", "src/gemm.cc", "src/eltwise.cc", "src/reduce.cc", "src/copy.cc", "src/fused.cc"],
    "cflags_cc!": ["-fno-exceptions", "-O2"],
    "cflags_cc": ["-O3", "-std=c++17", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-march=<!(echo ${KDQAT_NATIVE_ARCH:-native})"],
    "ldflags": ["-fopenmp"],
    "libraries": ["-ldnnl", "-lmvec", "-lgomp"]
  }]
}
