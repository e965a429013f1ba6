#!/usr/bin/env python3
"""Rewrites CUDA launches `kernel<T...><<<grid, block, smem, stream>>>(args)` into
`emu::launch(kernel<T...>, grid, block, smem, stream)(args)` so that a .cu file compiles with g++ against
the emulation header include/cuda_runtime.h. Usage: launch_rewrite.py IN.cu OUT.cpp"""
import re
import sys

LAUNCH = re.compile(r'([A-Za-z_][\w:]*(?:<[^<>;()]*>)?)<<<(.*?)>>>', re.S)

src = open(sys.argv[1]).read()
open(sys.argv[2], 'w').write(LAUNCH.sub(lambda m: 'emu::launch(%s, %s)' % (m.group(1), m.group(2)), src))
