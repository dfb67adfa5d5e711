// Dense forward vs OpenBLAS sgemm 2048^3 in process CPU time (robust on a shared machine), 1 thread;
// also the 64^3 tile gemm and softmax rates. Build (from the repo root; napistub.o: empty stubs of the
// napi_* symbols attention.cc references, e.g. `nm -u` them into int f(){return 0;}):
//   g++ -O3 -march=native -std=c++17 -I/usr/include/x86_64-linux-gnu/openblas-pthread -Inative/src -Inode_modules/node-addon-api \
//     -I/usr/include/node bench/attention/fwd_cpu.cc native/src/attention/attention*.cc native/src/core/threadpool.cc \
//     native/src/core/config.cc napistub.o -lopenblas -lpthread -o fwd_cpu
// Run: OPENBLAS_CORETYPE=Haswell fwd_cpu REPS [T] [x = skip the tile micro-benchmarks]
#include <cblas.h>
#include <algorithm>
#include <immintrin.h>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>
#include "attention/attention.h"
#include "core/threadpool.h"
extern "C" void openblas_set_num_threads(int);
namespace lmp { namespace attn { namespace simdx {
#include "attention/kernel_impl.inc"
void bench_parts() {
  alignas(64) static float A[64*64], B[64*64], C[64*64];
  for (int i=0;i<4096;++i) A[i]=0.01f*(i%7), B[i]=0.02f*(i%5);
  auto now=[]{return []{timespec ts; clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&ts); return ts.tv_sec+1e-9*ts.tv_nsec;}();};
  double best1=1e9,best2=1e9,best3=1e9;
  for (int r=0;r<20;++r){
    double t=now(); for(int it=0;it<2000;++it){ gemm<false>(A,64,B,64,C,64,64,64,64); asm volatile(""::"r"(C):"memory");} best1=std::min(best1,now()-t);
    t=now(); for(int it=0;it<2000;++it){ gemm<true>(A,64,B,64,C,64,64,64,64); asm volatile(""::"r"(C):"memory");} best2=std::min(best2,now()-t);
    t=now(); for(int it=0;it<2000;++it){ for(int i=0;i<64;++i){float*s=C+i*64; float mx=row_max(s); for(int j=0;j<64;++j) s[j]=fexp(s[j]-mx); A[i]+=row_sum(s);} asm volatile(""::"r"(C):"memory");} best3=std::min(best3,now()-t);
  }
  double fl=2.0*64*64*64*2000;
  printf("gemm<false> 64^3: %.1f GFLOP/s; gemm<true>: %.1f; softmax tile %.2f us (gemm pair %.2f us)\n", fl/best1/1e9, fl/best2/1e9, best3/2000*1e6, (best1+best2)/2000*1e6);
}
}}}
using namespace lmp;
int main(int argc,char**argv){
  const int T=argc>2?atoi(argv[2]):4096,D=64,H=2;
  if(argc<4) attn::simdx::bench_parts();
  std::vector<float> q((size_t)T*H*D),k(q.size()),v(q.size()),out(q.size()),lse((size_t)T*H);
  unsigned s=1; for(auto*a:{&q,&k,&v}) for(auto&x:*a) s=s*1664525u+1013904223u, x=(float)((s>>8)&0xffff)/65536.f-0.5f;
  int nb=T/64; std::vector<uint8_t> cls(nb*nb,1); std::vector<int32_t> prog={0,0}; std::vector<int32_t> cu={0,T}, hg(H,0); std::vector<int64_t> off={0};
  attn::Params p; p.q=q.data();p.k=k.data();p.v=v.data();p.H=H;p.Hkv=H;p.D=D;p.S=1;p.cuQ=cu.data();p.cuK=cu.data();p.docIds=nullptr;p.G=1;p.progs={prog.data()};p.progLens={2};p.headGroup=hg.data();p.classes=cls.data();p.classOff=off.data();p.scale=0.125f;
  set_num_threads(1); openblas_set_num_threads(1);
  auto now=[]{return []{timespec ts; clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&ts); return ts.tv_sec+1e-9*ts.tv_nsec;}();};
  const int N=2048; std::vector<float> A((size_t)N*N,0.5f),B(A.size(),0.25f),C(A.size());
  double bf=1e9,bs=1e9; int reps=argc>1?atoi(argv[1]):5;
  for(int r=0;r<reps;++r){ double t=now(); attn::forward(p,out.data(),lse.data()); bf=std::min(bf,now()-t);
    t=now(); cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,N,N,N,1.f,A.data(),N,B.data(),N,0.f,C.data(),N); bs=std::min(bs,now()-t);}
  double gf=4.0*T*T*D*H/bf/1e9, sg=2.0*N*N*N/bs/1e9;
  double cs=0; for(float x:out) cs+=x;
  printf("fused %.1f GFLOP/s (%.1f ms), sgemm %.1f GFLOP/s, ratio %.2f  checksum %.6f\n",gf,bf*1e3,sg,gf/sg,cs);
}
