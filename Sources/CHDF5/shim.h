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
static inline hid_t graft_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t graft_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t graft_h5p_dataset_access(void) { return H5P_DATASET_ACCESS; }
static inline hid_t graft_h5p_link_access(void) { return H5P_LINK_ACCESS; }
static inline H5F_libver_t graft_h5f_libver_latest(void) { return H5F_LIBVER_LATEST; }

// An external link names another file, which HDF5 would open while a path
// is traversed: the readers refuse to follow one.
static inline herr_t graft_h5_refuse_external_link(const char *parent_file, const char *parent_group,
                                                   const char *child_file, const char *child_object,
                                                   unsigned *flags, hid_t fapl, void *data) {
    (void)parent_file; (void)parent_group; (void)child_file; (void)child_object;
    (void)flags; (void)fapl; (void)data;
    return -1;
}
static inline herr_t graft_h5p_refuse_external_links(hid_t link_access) {
    return H5Pset_elink_cb(link_access, graft_h5_refuse_external_link, NULL);
}
