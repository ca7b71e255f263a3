// A 16 x 16 float transpose in AVX-512 registers, shared by the *_avx512.cpp kernels (N:M GEMM and
// N:M selection). Include it only from files built with AVX-512 flags. The function has internal
// linkage on purpose (unnamed namespace): each ISA object keeps its own copy and defines no weak
// symbol the linker could pick for other code (scripts/check_isa_objects.sh).
#pragma once
#include <immintrin.h>

namespace frugal::kernels {
namespace {

// r[i][l] -> r[l][i]. Masked forms with every lane set: GCC 12 warns on the plain forms'
// undefined pass-through operand.
inline void transpose16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_mask_unpacklo_ps(r[2 * i], 0xFFFF, r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_mask_unpackhi_ps(r[2 * i], 0xFFFF, r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_mask_shuffle_ps(t[4 * i], 0xFFFF, t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_mask_shuffle_ps(t[4 * i], 0xFFFF, t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_mask_shuffle_ps(t[4 * i + 1], 0xFFFF, t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_mask_shuffle_ps(t[4 * i + 1], 0xFFFF, t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_mask_shuffle_f32x4(r[h + i], 0xFFFF, r[h + i], r[h + 4 + i], 0x88);
      t[h + 4 + i] = _mm512_mask_shuffle_f32x4(r[h + i], 0xFFFF, r[h + i], r[h + 4 + i], 0xDD);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_mask_shuffle_f32x4(t[i], 0xFFFF, t[i], t[8 + i], 0x88);
    r[8 + i] = _mm512_mask_shuffle_f32x4(t[i], 0xFFFF, t[i], t[8 + i], 0xDD);
  }
}

}  // namespace
}  // namespace frugal::kernels
