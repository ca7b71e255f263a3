// NIR files through the HDF5 C API. Layout from neuromorphs/NIR nir/serialization.py: every node
// is a group with a "type" string and its parameters as datasets; newer writers add "input_type",
// "output_type" and "metadata" subgroups, which are read where they carry shapes and skipped
// otherwise. Files are written in memory (HDF5's core driver) and then replaced atomically.
#include "frugal/io/nir.h"

#include <hdf5.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <vector>

#include "frugal/core/error.h"
#include "frugal/io/atomic_file.h"
#include "frugal/io/limits.h"

namespace frugal::io {

namespace {

constexpr int kMaxRank = 8;

// Values are held as double, so NIR keeps a tighter element cap than io::limits() (2 GiB per array).
int64_t max_elements() { return std::min<int64_t>(int64_t{1} << 28, limits().max_tensor_elements); }

// Closes an HDF5 id with the right function when it goes out of scope.
class Hid {
 public:
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Hid() {
    if (id_ >= 0) close_(id_);
  }
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// HDF5 prints its error stack to stderr by default; frugal reports errors itself.
void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Variable-length strings live in global heap collections ("GCOL", HDF5 spec III.E). libhdf5
// 1.10.8 walks a collection's objects by their size fields and never advances past a free-space
// object (index 0) of size 0: a corrupt collection made H5Dread spin forever (found by fuzz_nir).
// Every version-1 collection in the file is walked here first, the same way, and refused unless
// each object fits and the walk moves forward; local heaps are checked in the same pass (below).
// Sizes of lengths and addresses are 8 bytes (h5py's default).
void check_heaps(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), path + ": cannot open");
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  const auto read_at = [&](uint64_t offset, size_t n) {
    std::string bytes(n, '\0');
    in.clear();
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(bytes.data(), static_cast<std::streamsize>(n));
    bytes.resize(static_cast<size_t>(in.gcount()));
    return bytes;
  };
  const auto u64 = [](const std::string& b, size_t at) {
    uint64_t v = 0;
    std::memcpy(&v, b.data() + at, 8);
    return v;
  };
  constexpr size_t kBlock = 1 << 20;
  for (uint64_t base = 0; base < file_size; base += kBlock) {
    // Blocks overlap by 3 bytes so a signature on a block boundary is seen.
    const std::string block = read_at(base, kBlock + 3);
    for (size_t at = block.find("GCOL"); at != std::string::npos; at = block.find("GCOL", at + 1)) {
      if (at >= kBlock) break;
      const uint64_t start = base + at;
      const std::string head = read_at(start, 16);
      if (head.size() < 16 || head[4] != 1) continue;  // libhdf5 refuses other versions itself
      const uint64_t size = u64(head, 8);
      const std::string where = path + ": global heap collection at byte " + std::to_string(start);
      require(size >= 16 && size <= file_size - start, where + " claims " + std::to_string(size) + " bytes");
      require(size <= (uint64_t{1} << 30), where + " is larger than 1 GiB");
      const std::string heap = read_at(start, static_cast<size_t>(size));
      for (uint64_t p = 16; p + 16 <= size;) {
        const unsigned index = static_cast<unsigned char>(heap[p]) | static_cast<unsigned char>(heap[p + 1]) << 8;
        const uint64_t object_size = u64(heap, static_cast<size_t>(p) + 8);
        require(object_size <= size - p, where + ": object " + std::to_string(index) + " runs past the collection");
        const uint64_t need = index == 0 ? object_size : 16 + (object_size + 7) / 8 * 8;
        require(need > 0 && need <= size - p,
                where + ": object " + std::to_string(index) + " has size " + std::to_string(object_size));
        p += need;
      }
    }
    // Local heaps ("HEAP", version 0, spec III.D) hold group member names. libhdf5 1.10.8 sizes
    // its read buffer as the prefix plus the data segment size without checking the sum, so a
    // segment size near 2^64 wrapped to a negative malloc (found by fuzz_nir). The segment must
    // fit in the file, at its address and (when it follows the prefix) after the prefix.
    for (size_t at = block.find("HEAP"); at != std::string::npos; at = block.find("HEAP", at + 1)) {
      if (at >= kBlock) break;
      const uint64_t start = base + at;
      const std::string head = read_at(start, 32);
      if (head.size() < 32 || head[4] != 0) continue;  // libhdf5 refuses other versions itself
      const uint64_t segment = u64(head, 8);
      const uint64_t address = u64(head, 24);
      const std::string where = path + ": local heap at byte " + std::to_string(start);
      require(segment <= file_size - start, where + " claims a data segment of " + std::to_string(segment) + " bytes");
      require(address == ~uint64_t{0} || (address <= file_size && segment <= file_size - address),
              where + ": its data segment at byte " + std::to_string(address) + " runs past the end of the file");
    }
  }
}

bool is_int_key(const std::string& key) {
  static const std::set<std::string> keys = {"shape",       "input_shape", "stride",    "padding",
                                             "dilation",    "groups",      "kernel_size", "start_dim",
                                             "end_dim",     "input_type",  "output_type"};
  return keys.count(key) > 0;
}

struct TypeSpec {
  std::string type;
  std::vector<std::string> required;
};

const std::vector<TypeSpec>& type_specs() {
  static const std::vector<TypeSpec> specs = {
      {"Input", {"shape"}},
      {"Output", {}},
      {"Affine", {"weight", "bias"}},
      {"Linear", {"weight"}},
      {"Scale", {"scale"}},
      {"Conv1d", {"weight", "stride", "padding", "dilation", "groups", "bias"}},
      {"Conv2d", {"weight", "stride", "padding", "dilation", "groups", "bias"}},
      {"Flatten", {"start_dim", "end_dim"}},
      {"SumPool2d", {"kernel_size", "stride", "padding"}},
      {"AvgPool2d", {"kernel_size", "stride", "padding"}},
      {"Delay", {"delay"}},
      {"Threshold", {"threshold"}},
      {"I", {"r"}},
      {"IF", {"r", "v_threshold"}},
      {"LI", {"tau", "r", "v_leak"}},
      {"LIF", {"tau", "r", "v_leak", "v_threshold"}},
      {"CubaLI", {"tau_syn", "tau_mem", "r", "v_leak"}},
      {"CubaLIF", {"tau_syn", "tau_mem", "r", "v_leak", "v_threshold"}},
      {"NIRGraph", {}},
  };
  return specs;
}

const TypeSpec* find_spec(const std::string& type) {
  for (const TypeSpec& s : type_specs())
    if (s.type == type) return &s;
  return nullptr;
}

std::string join_path(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

std::vector<std::string> member_names(hid_t group, const std::string& where) {
  H5G_info_t info;
  require(H5Gget_info(group, &info) >= 0, where + ": cannot list the group");
  require(info.nlinks <= 100000, where + ": too many members (" + std::to_string(info.nlinks) + ")");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t len = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    require(len >= 0 && len < 4096, where + ": unreadable member name");
    std::string name(static_cast<size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(len));
    names.push_back(name);
  }
  return names;
}

// H5I_GROUP, H5I_DATASET or H5I_BADID when the member is neither (or a broken link).
H5I_type_t member_kind(hid_t group, const std::string& name) {
  if (H5Lexists(group, name.c_str(), H5P_DEFAULT) <= 0) return H5I_BADID;
  Hid obj(H5Oopen(group, name.c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.ok()) return H5I_BADID;
  return H5Iget_type(obj.get());
}

Shape dataset_shape(hid_t dset, const std::string& where) {
  Hid space(H5Dget_space(dset), H5Sclose);
  require(space.ok(), where + ": cannot read the dataspace");
  int rank = H5Sget_simple_extent_ndims(space.get());
  require(rank >= 0 && rank <= kMaxRank, where + ": rank must be 0.." + std::to_string(kMaxRank));
  hsize_t dims[kMaxRank];
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  Shape shape;
  int64_t numel = 1;
  for (int i = 0; i < rank; ++i) {
    require(dims[i] <= static_cast<hsize_t>(max_elements()), where + ": dimension too large");
    shape.push_back(static_cast<int64_t>(dims[i]));
    numel *= shape.back();
    require(numel <= max_elements(), where + ": more than " + std::to_string(max_elements()) + " elements");
  }
  return shape;
}

// libhdf5 1.10.8 (H5T__conv_vlen, inside H5Dread) mallocs each variable-length string's claimed
// length before it looks at the heap object, so a descriptor claiming 2 GiB made it allocate 2 GiB
// (found by fuzz_nir). H5Dvlen_get_buf_size does not help: in 1.10.8 it reads every element
// through the same conversion. The descriptors are therefore read here from the raw data (HDF5
// spec III.F: per string a 4-byte little-endian length, then the global heap id) and refused
// above limits().max_string_bytes each or above the file length in total. Only contiguous raw
// data in the file itself has bytes to check; h5py and frugal write strings that way, so other
// layouts (compact, chunked, external) are refused rather than read unchecked.
void check_vlen_string_lengths(hid_t dset, hid_t ftype, int64_t n, const std::string& where) {
  // libhdf5 allocates length x the size of the string's base (character) type, which a corrupt
  // datatype message can set to anything (fuzz_nir: 8.5 GB). No call exposes that size for a
  // string type, so it is taken from H5Tencode's output: 2 bytes of encoding header, then the
  // datatype message (spec IV.A.2.d): class 9 (variable-length), size, then the base type with
  // its own 4-byte size at offset 4 of its message.
  size_t encoded = 0;
  require(H5Tencode(ftype, nullptr, &encoded) >= 0 && encoded >= 18 && encoded <= 4096,
          where + ": cannot encode the string datatype");
  std::vector<unsigned char> enc(encoded);
  require(H5Tencode(ftype, enc.data(), &encoded) >= 0 && (enc[2] & 0x0f) == 9,
          where + ": the variable-length string datatype is not encoded as expected");
  const uint32_t base_size = uint32_t{enc[14]} | uint32_t{enc[15]} << 8 | uint32_t{enc[16]} << 16 | uint32_t{enc[17]} << 24;
  require(base_size == 1, where + ": characters of " + std::to_string(base_size) + " bytes, expected 1");
  Hid dcpl(H5Dget_create_plist(dset), H5Pclose);
  require(dcpl.ok(), where + ": cannot read the dataset's creation properties");
  require(H5Pget_layout(dcpl.get()) == H5D_CONTIGUOUS && H5Pget_external_count(dcpl.get()) == 0,
          where + ": variable-length strings must be stored contiguously in the file (compact, chunked or external "
                  "storage is not read, as their lengths cannot be checked before libhdf5 allocates them)");
  const haddr_t offset = H5Dget_offset(dset);
  require(offset != HADDR_UNDEF, where + ": the strings were never written (no raw data)");
  Hid file(H5Iget_file_id(dset), H5Fclose);
  Hid fcpl(H5Fget_create_plist(file.get()), H5Pclose);
  size_t sizeof_addr = 0, sizeof_size = 0;
  require(fcpl.ok() && H5Pget_sizes(fcpl.get(), &sizeof_addr, &sizeof_size) >= 0 && sizeof_addr <= 16,
          where + ": cannot read the file's address size");
  const ssize_t name_len = H5Fget_name(file.get(), nullptr, 0);
  require(name_len > 0, where + ": cannot get the file name");
  std::string file_name(static_cast<size_t>(name_len) + 1, '\0');
  H5Fget_name(file.get(), file_name.data(), file_name.size());
  file_name.resize(static_cast<size_t>(name_len));
  std::ifstream in(file_name, std::ios::binary);
  require(in.good(), file_name + ": cannot open");
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  const uint64_t descriptor = 4 + sizeof_addr + 4;
  const uint64_t bytes = descriptor * static_cast<uint64_t>(n);
  require(offset <= file_size && bytes <= file_size - offset,
          where + ": the " + std::to_string(n) + " string descriptors at byte " + std::to_string(offset) +
              " run past the end of the file (" + std::to_string(file_size) + " bytes)");
  std::string raw(static_cast<size_t>(bytes), '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(raw.data(), static_cast<std::streamsize>(bytes));
  require(static_cast<uint64_t>(in.gcount()) == bytes, where + ": cannot read the string descriptors");
  uint64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const unsigned char* d = reinterpret_cast<const unsigned char*>(raw.data()) + static_cast<uint64_t>(i) * descriptor;
    const uint64_t len = uint64_t{d[0]} | uint64_t{d[1]} << 8 | uint64_t{d[2]} << 16 | uint64_t{d[3]} << 24;
    require(len <= static_cast<uint64_t>(limits().max_string_bytes),
            where + ": string " + std::to_string(i) + " claims " + std::to_string(len) + " bytes, more than the cap of " +
                std::to_string(limits().max_string_bytes));
    total += len;
    require(total <= file_size, where + ": the strings claim " + std::to_string(total) + " bytes, more than the file holds (" +
                                    std::to_string(file_size) + " bytes)");
  }
}

// All strings of a string dataset (scalar or any shape), variable or fixed length.
std::vector<std::string> read_strings(hid_t group, const std::string& name, const std::string& where) {
  Hid dset(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
  require(dset.ok(), where + ": cannot open dataset");
  Hid ftype(H5Dget_type(dset.get()), H5Tclose);
  require(H5Tget_class(ftype.get()) == H5T_STRING, where + ": expected a string dataset");
  Shape shape = dataset_shape(dset.get(), where);
  const int64_t n = shape_numel(shape);
  require(n <= 1 << 20, where + ": too many strings");
  std::vector<std::string> out;
  Hid space(H5Dget_space(dset.get()), H5Sclose);
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Hid mtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));
    if (n > 0) check_vlen_string_lengths(dset.get(), ftype.get(), n, where);
    // Strings are allocated through a tracking memory manager and all freed here: when H5Dread
    // fails part-way, libhdf5 1.10.8 leaves the strings it converted so far in its own conversion
    // buffer, out of reach of H5Dvlen_reclaim (LeakSanitizer, found by fuzz_nir).
    std::set<void*> live;
    Hid dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
    const auto alloc = [](size_t size, void* info) -> void* {
      void* p = std::malloc(size);
      if (p) static_cast<std::set<void*>*>(info)->insert(p);
      return p;
    };
    const auto release = [](void* p, void* info) {
      static_cast<std::set<void*>*>(info)->erase(p);
      std::free(p);
    };
    require(dxpl.ok() && H5Pset_vlen_mem_manager(dxpl.get(), alloc, &live, release, &live) >= 0,
            where + ": cannot set up the string reader");
    std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
    const herr_t read = n > 0 ? H5Dread(dset.get(), mtype.get(), H5S_ALL, H5S_ALL, dxpl.get(), ptrs.data()) : 0;
    if (read >= 0) {
      for (char* p : ptrs)
        out.push_back(p ? std::string(p, strnlen(p, static_cast<size_t>(limits().max_string_bytes))) : std::string());
    }
    for (void* p : live) std::free(p);
    require(read >= 0, where + ": cannot read strings");
  } else {
    const size_t size = H5Tget_size(ftype.get());
    require(size > 0 && size <= static_cast<size_t>(limits().max_string_bytes), where + ": string length out of range");
    require(static_cast<int64_t>(size) * n <= max_elements(), where + ": strings too large");
    Hid mtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mtype.get(), size);
    std::vector<char> buf(size * static_cast<size_t>(n) + 1, '\0');
    if (n > 0) {
      require(H5Dread(dset.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) >= 0,
              where + ": cannot read strings");
    }
    for (int64_t i = 0; i < n; ++i) {
      const char* p = buf.data() + static_cast<size_t>(i) * size;
      out.push_back(std::string(p, strnlen(p, size)));
    }
  }
  return out;
}

std::string read_string(hid_t group, const std::string& name, const std::string& where) {
  std::vector<std::string> s = read_strings(group, name, where);
  require(s.size() == 1, where + ": expected one string, found " + std::to_string(s.size()));
  return s[0];
}

bool is_string_dataset(hid_t group, const std::string& name) {
  Hid dset(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dset.ok()) return false;
  Hid ftype(H5Dget_type(dset.get()), H5Tclose);
  return H5Tget_class(ftype.get()) == H5T_STRING;
}

NirArray read_array(hid_t group, const std::string& name, const std::string& where) {
  Hid dset(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
  require(dset.ok(), where + ": cannot open dataset");
  Hid ftype(H5Dget_type(dset.get()), H5Tclose);
  NirArray a;
  a.name = name;
  const H5T_class_t cls = H5Tget_class(ftype.get());
  const size_t size = H5Tget_size(ftype.get());
  if (cls == H5T_FLOAT && size == 4) {
    a.dtype = NirDtype::f32;
  } else if (cls == H5T_FLOAT && size == 8) {
    a.dtype = NirDtype::f64;
  } else if (cls == H5T_INTEGER) {
    a.dtype = NirDtype::i64;
  } else {
    throw Error(where + ": expected float32, float64 or integer data");
  }
  a.shape = dataset_shape(dset.get(), where);
  // A dataset that was never written stores no bytes and reads as its fill value, so a file of a
  // few kilobytes could otherwise make us allocate 2 GiB for it.
  require(a.shape.empty() || shape_numel(a.shape) == 0 || H5Dget_storage_size(dset.get()) > 0,
          where + ": dataset of shape " + shape_str(a.shape) + " stores no data");
  a.values.resize(static_cast<size_t>(shape_numel(a.shape)));
  if (a.dtype == NirDtype::i64) {
    std::vector<int64_t> ints(a.values.size());
    if (!ints.empty()) {
      require(H5Dread(dset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ints.data()) >= 0,
              where + ": cannot read integers");
    }
    for (size_t i = 0; i < ints.size(); ++i) a.values[i] = static_cast<double>(ints[i]);
  } else if (!a.values.empty()) {
    require(H5Dread(dset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.values.data()) >= 0,
            where + ": cannot read values");
  }
  return a;
}

void check_node(const NirNode& node, const std::string& where);

NirNode read_node(hid_t group, const std::string& name, const std::string& file, const std::string& path,
                  int depth) {
  const std::string where = file + ": node '" + path + "'";
  require(depth <= limits().max_nesting_depth,
          where + ": graphs nested deeper than " + std::to_string(limits().max_nesting_depth));
  require(member_kind(group, "type") == H5I_DATASET, where + ": missing dataset 'type'");
  NirNode node;
  node.name = name;
  node.type = read_string(group, "type", where + " 'type'");
  require(find_spec(node.type) != nullptr, where + ": unknown node type '" + node.type + "'");
  for (const std::string& key : member_names(group, where)) {
    if (key == "type") continue;
    const H5I_type_t kind = member_kind(group, key);
    if (kind == H5I_GROUP) {
      // Newer NIR writes {"input": shape} / {"output": shape} groups; Flatten and Conv need them.
      if (key == "input_type" || key == "output_type") {
        Hid sub(H5Gopen2(group, key.c_str(), H5P_DEFAULT), H5Gclose);
        const std::string inner = key == "input_type" ? "input" : "output";
        if (member_kind(sub.get(), inner) == H5I_DATASET) {
          NirArray a = read_array(sub.get(), inner, where + " '" + key + "/" + inner + "'");
          a.name = key;
          node.arrays.push_back(a);
        }
      }
      continue;  // "nodes" is read below; "metadata" carries nothing frugal uses
    }
    require(kind == H5I_DATASET, where + ": '" + key + "' is neither a group nor a dataset");
    if (key == "edges") continue;
    if (is_string_dataset(group, key)) {
      const std::string s = read_string(group, key, where + " '" + key + "'");
      // NIR allows padding "valid" (no padding); "same" depends on the input and is not supported.
      require(key == "padding" && s == "valid",
              where + ": '" + key + "' is the string '" + s + "', expected numbers");
      NirArray a;
      a.name = key;
      a.dtype = NirDtype::i64;
      a.shape = {2};
      a.values = {0, 0};
      node.arrays.push_back(a);
      continue;
    }
    NirArray a = read_array(group, key, where + " '" + key + "'");
    if (is_int_key(key)) {
      require(a.dtype == NirDtype::i64, where + ": '" + key + "' must be integers");
    } else {
      require(a.dtype != NirDtype::i64, where + ": '" + key + "' must be float32 or float64, got integers");
    }
    node.arrays.push_back(a);
  }
  if (node.type == "NIRGraph") {
    require(member_kind(group, "nodes") == H5I_GROUP, where + ": missing group 'nodes'");
    require(member_kind(group, "edges") == H5I_DATASET, where + ": missing dataset 'edges'");
    Hid nodes(H5Gopen2(group, "nodes", H5P_DEFAULT), H5Gclose);
    for (const std::string& child : member_names(nodes.get(), where + " 'nodes'")) {
      require(member_kind(nodes.get(), child) == H5I_GROUP,
              file + ": node '" + join_path(path, child) + "' is not a group");
      Hid sub(H5Gopen2(nodes.get(), child.c_str(), H5P_DEFAULT), H5Gclose);
      node.nodes.push_back(read_node(sub.get(), child, file, join_path(path, child), depth + 1));
    }
    // h5py writes an empty edge list as a float array of shape (0,).
    Hid dset(H5Dopen2(group, "edges", H5P_DEFAULT), H5Dclose);
    Shape eshape = dataset_shape(dset.get(), where + " 'edges'");
    if (shape_numel(eshape) > 0) {
      require(eshape.size() == 2 && eshape[1] == 2, where + ": 'edges' must be [E, 2] strings");
      std::vector<std::string> e = read_strings(group, "edges", where + " 'edges'");
      for (size_t i = 0; i + 1 < e.size(); i += 2) node.edges.push_back({e[i], e[i + 1]});
    }
  }
  check_node(node, where);
  return node;
}

// Parameter presence, ranks and agreeing sizes per node type: a wrong-rank weight is caught here,
// naming the node, before anything is built from it.
void check_node(const NirNode& node, const std::string& where) {
  const TypeSpec* spec = find_spec(node.type);
  for (const std::string& key : spec->required) node.get(key, where);
  auto rank_is = [&](const std::string& key, size_t rank) {
    const NirArray& a = node.get(key, where);
    require(a.shape.size() == rank, where + ": '" + key + "' must have rank " + std::to_string(rank) + ", got " +
                                        shape_str(a.shape));
    return a.shape;
  };
  if (node.type == "Affine" || node.type == "Linear") {
    Shape w = rank_is("weight", 2);
    if (node.type == "Affine") {
      const NirArray& b = node.get("bias", where);
      require(shape_numel(b.shape) == w[0], where + ": 'bias' must have " + std::to_string(w[0]) + " elements");
    }
  } else if (node.type == "Conv1d" || node.type == "Conv2d") {
    Shape w = rank_is("weight", node.type == "Conv1d" ? 3 : 4);
    const NirArray& b = node.get("bias", where);
    require(shape_numel(b.shape) == w[0], where + ": 'bias' must have " + std::to_string(w[0]) + " elements");
    const NirArray& g = node.get("groups", where);
    require(g.values.size() == 1 && g.values[0] >= 1, where + ": 'groups' must be one positive integer");
  } else if (node.type == "SumPool2d" || node.type == "AvgPool2d") {
    for (const char* key : {"kernel_size", "stride", "padding"}) {
      const NirArray& a = node.get(key, where);
      require(a.values.size() == 1 || a.values.size() == 2, where + ": '" + key + "' must have 1 or 2 entries");
    }
  } else if (node.type == "Input") {
    const NirArray& s = node.get("shape", where);
    require(s.shape.size() <= 1, where + ": 'shape' must be a list of sizes");
    for (double v : s.values) require(v >= 1 && v <= static_cast<double>(max_elements()), where + ": 'shape' entries must be positive");
  } else if (node.type == "NIRGraph") {
    std::set<std::string> names;
    for (const NirNode& n : node.nodes) names.insert(n.name);
    for (const auto& e : node.edges) {
      require(names.count(e.first) > 0, where + ": edge '" + e.first + "' -> '" + e.second + "' starts at no node");
      require(names.count(e.second) > 0, where + ": edge '" + e.first + "' -> '" + e.second + "' ends at no node");
    }
  } else if (node.type != "Output" && node.type != "Flatten") {
    // Neurons, Scale, Threshold, Delay: every array is per neuron, so all must agree in size.
    int64_t numel = -1;
    for (const NirArray& a : node.arrays) {
      if (a.name == "input_type" || a.name == "output_type") continue;
      const int64_t k = shape_numel(a.shape);
      if (numel < 0 || numel == 1) numel = std::max(numel, k);
      require(k == 1 || k == numel, where + ": '" + a.name + "' has " + std::to_string(k) + " elements, expected " +
                                        std::to_string(numel));
    }
  }
}

void write_string(hid_t group, const std::string& name, const std::vector<std::string>& values, const Shape& shape,
                  const std::string& where) {
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Hid space(shape.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
            H5Sclose);
  Hid dset(H5Dcreate2(group, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  require(dset.ok(), where + ": cannot create dataset '" + name + "'");
  std::vector<const char*> ptrs;
  for (const std::string& s : values) ptrs.push_back(s.c_str());
  if (!ptrs.empty()) {
    require(H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) >= 0,
            where + ": cannot write '" + name + "'");
  }
}

void write_array(hid_t group, const NirArray& a, const std::string& where) {
  require(static_cast<int64_t>(a.values.size()) == shape_numel(a.shape),
          where + ": '" + a.name + "' has " + std::to_string(a.values.size()) + " values for shape " + shape_str(a.shape));
  std::vector<hsize_t> dims(a.shape.begin(), a.shape.end());
  Hid space(a.shape.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
            H5Sclose);
  hid_t ftype = a.dtype == NirDtype::f32 ? H5T_IEEE_F32LE : a.dtype == NirDtype::f64 ? H5T_IEEE_F64LE : H5T_STD_I64LE;
  Hid dset(H5Dcreate2(group, a.name.c_str(), ftype, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  require(dset.ok(), where + ": cannot create dataset '" + a.name + "'");
  if (a.values.empty()) return;
  herr_t rc;
  if (a.dtype == NirDtype::i64) {
    std::vector<int64_t> ints(a.values.begin(), a.values.end());
    rc = H5Dwrite(dset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ints.data());
  } else {
    rc = H5Dwrite(dset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.values.data());
  }
  require(rc >= 0, where + ": cannot write '" + a.name + "'");
}

void write_node(hid_t group, const NirNode& node, const std::string& where) {
  require(find_spec(node.type) != nullptr, where + ": unknown node type '" + node.type + "'");
  write_string(group, "type", {node.type}, {}, where);
  for (const NirArray& a : node.arrays) write_array(group, a, where);
  if (node.type != "NIRGraph") return;
  Hid nodes(H5Gcreate2(group, "nodes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  for (const NirNode& child : node.nodes) {
    Hid sub(H5Gcreate2(nodes.get(), child.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    require(sub.ok(), where + ": cannot create node '" + child.name + "' (empty or duplicate name?)");
    write_node(sub.get(), child, where + "/" + child.name);
  }
  std::vector<std::string> flat;
  for (const auto& e : node.edges) {
    flat.push_back(e.first);
    flat.push_back(e.second);
  }
  write_string(group, "edges", flat, {static_cast<int64_t>(node.edges.size()), 2}, where);
}

}  // namespace

const NirArray* NirNode::find(const std::string& key) const {
  for (const NirArray& a : arrays)
    if (a.name == key) return &a;
  return nullptr;
}

const NirArray& NirNode::get(const std::string& key, const std::string& where) const {
  const NirArray* a = find(key);
  require(a != nullptr, where + ": missing dataset '" + key + "' for a " + type + " node");
  return *a;
}

const NirNode* NirNode::find_node(const std::string& node_name) const {
  for (const NirNode& n : nodes)
    if (n.name == node_name) return &n;
  return nullptr;
}

const std::vector<std::string>& nir_node_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> t;
    for (const TypeSpec& s : type_specs()) t.push_back(s.type);
    return t;
  }();
  return types;
}

NirFile read_nir(const std::string& path) {
  silence_hdf5();
  require(H5Fis_hdf5(path.c_str()) > 0, path + ": not an HDF5 file (or cannot be opened)");
  check_heaps(path);
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  require(file.ok(), path + ": cannot open the HDF5 file");
  NirFile out;
  if (member_kind(file.get(), "version") == H5I_DATASET) out.version = read_string(file.get(), "version", path + ": 'version'");
  require(member_kind(file.get(), "node") == H5I_GROUP, path + ": missing group 'node' (the graph)");
  Hid node(H5Gopen2(file.get(), "node", H5P_DEFAULT), H5Gclose);
  out.graph = read_node(node.get(), "", path, "", 0);
  require(out.graph.type == "NIRGraph", path + ": the top node is a " + out.graph.type + ", expected NIRGraph");
  infer_nir_shapes(out.graph, path);
  return out;
}

void write_nir(const std::string& path, const NirFile& nir) {
  silence_hdf5();
  // An in-memory file (core driver, no backing store) gives the bytes for an atomic replace.
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(fapl.get(), 1 << 16, 0);
  std::string bytes;
  {
    Hid file(H5Fcreate((path + ".mem").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
    require(file.ok(), path + ": cannot create an HDF5 image");
    write_string(file.get(), "version", {nir.version.empty() ? std::string("0.2.0") : nir.version}, {}, path);
    Hid node(H5Gcreate2(file.get(), "node", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    write_node(node.get(), nir.graph, path + ": node");
    H5Fflush(file.get(), H5F_SCOPE_GLOBAL);
    ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
    require(size > 0, path + ": cannot get the HDF5 image");
    bytes.resize(static_cast<size_t>(size));
    require(H5Fget_file_image(file.get(), bytes.data(), bytes.size()) == size, path + ": cannot copy the HDF5 image");
  }
  write_file_atomic(path, bytes);
}

}  // namespace frugal::io
