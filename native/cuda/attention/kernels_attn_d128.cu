// The attention kernels of head dim 128 (one file per head dim, so the instantiations compile in parallel).
#include "attention/kernels_attn.cuh"

LMP_ATTN_INSTANTIATE(128)
