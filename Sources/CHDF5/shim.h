// HDF5's C API. Several of its constants are macros that expand to function
// calls or casts, which Swift cannot import: they are re-exported here as
// static inline functions.
#include <hdf5.h>

static inline hid_t graft_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t graft_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t graft_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline unsigned graft_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned graft_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline hid_t graft_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t graft_h5s_all(void) { return H5S_ALL; }
static inline hid_t graft_h5e_default(void) { return H5E_DEFAULT; }
static inline size_t graft_h5t_variable(void) { return H5T_VARIABLE; }
static inline hid_t graft_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t graft_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t graft_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t graft_h5t_std_i64le(void) { return H5T_STD_I64LE; }
static inline unsigned graft_h5f_acc_excl(void) { return H5F_ACC_EXCL; }
