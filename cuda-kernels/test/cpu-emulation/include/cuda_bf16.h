// Shim: the emulated CUDA runtime (see cuda_emulation.h).
#pragma once
#include "cuda_emulation.h"
