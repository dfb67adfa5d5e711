// Data bindings (module `data`): thin glue for gather.h. runtime/data/pack.ts wraps it.
#include <napi.h>

#include <algorithm>

#include "core/error.h"
#include "core/napi_util.h"
#include "core/registry.h"
#include "data/gather.h"

namespace lmp {
namespace {

// dataGather(corpus, segStart, segLen, segDoc, seqFirstSeg, seqLength, perSequence, padId,
//            seqs, tokens, docIds, positionIds, lossMask, cuSeqlens, segCu, outSegDoc,
//            outSegOffset, outSegLength, mode) -> number of tokens written
// mode: 0 auto (streaming stores from 16 MiB of output), 1 streaming, 2 cached stores.
Napi::Value Gather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    if (info.Length() < 19) fail("LMP_E_ARG", "dataGather takes 19 arguments");
    data::PlanView plan;
    auto corpus = array_arg<int32_t>(info[0], "corpus");
    auto seg_start = array_arg<double>(info[1], "segStart");
    auto seg_len = array_arg<int32_t>(info[2], "segLen");
    auto seg_doc = array_arg<int32_t>(info[3], "segDoc");
    auto first = array_arg<int32_t>(info[4], "seqFirstSeg");
    auto seq_length = array_arg<int32_t>(info[5], "seqLength");
    plan.corpus = corpus.data;
    plan.corpus_len = static_cast<int64_t>(corpus.length);
    plan.seg_start = seg_start.data;
    plan.seg_len = seg_len.data;
    plan.seg_doc = seg_doc.data;
    plan.n_segs = static_cast<int64_t>(std::min({seg_start.length, seg_len.length, seg_doc.length}));
    plan.seq_first_seg = first.data;
    plan.seq_length = seq_length.data;
    plan.n_seqs = std::min(static_cast<int64_t>(seq_length.length), static_cast<int64_t>(first.length) - 1);
    plan.per_sequence = info[6].ToBoolean().Value();
    plan.pad_id = static_cast<int32_t>(int_arg(info[7], "padId"));
    auto seqs = array_arg<int32_t>(info[8], "seqs");
    data::BatchOut out;
    auto tokens = array_arg<int32_t>(info[9], "tokens");
    auto doc_ids = array_arg<int32_t>(info[10], "docIds");
    auto pos = array_arg<int32_t>(info[11], "positionIds");
    auto mask = array_arg<uint8_t>(info[12], "lossMask");
    auto cu = array_arg<int32_t>(info[13], "cuSeqlens");
    auto seg_cu = array_arg<int32_t>(info[14], "segCu");
    auto o_doc = array_arg<int32_t>(info[15], "segDoc (output)");
    auto o_off = array_arg<int32_t>(info[16], "segOffset");
    auto o_len = array_arg<int32_t>(info[17], "segLength");
    out.tokens = tokens.data;
    out.doc_ids = doc_ids.data;
    out.position_ids = pos.data;
    out.loss_mask = mask.data;
    out.cap_tokens = static_cast<int64_t>(std::min({tokens.length, doc_ids.length, pos.length, mask.length}));
    out.cu_seqlens = cu.data;
    out.seg_cu = seg_cu.data;
    out.cap_seqs = static_cast<int64_t>(std::min(cu.length, seg_cu.length));
    out.seg_doc = o_doc.data;
    out.seg_offset = o_off.data;
    out.seg_length = o_len.data;
    out.cap_segs = static_cast<int64_t>(std::min({o_doc.length, o_off.length, o_len.length}));
    const int64_t mode = int_arg(info[18], "mode");
    check(mode >= 0 && mode <= 2, "LMP_E_ARG", "mode must be 0 (auto), 1 (streaming) or 2 (cached)");
    const data::GatherSize size = data::gather(plan, seqs.data, static_cast<int64_t>(seqs.length), out, static_cast<data::StoreMode>(mode));
    return Napi::Number::New(env, static_cast<double>(size.tokens));
  })
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("dataGather", Napi::Function::New(env, Gather, "dataGather"));
}

}  // namespace
}  // namespace lmp

LMP_REGISTER_MODULE(data, lmp::Export);
