# lmp_link_cublas(target): cuBLAS headers and library for a CUDA build of `target`.
# Looked for, in order:
#   1. the CUDA toolkit's (find_package(CUDAToolkit) -> CUDA::cublas), when it has them;
#   2. LMP_CUBLAS_ROOT or LMP_CUBLAS_DIR (CMake variables; LMP_CUBLAS_DIR also from the environment):
#      a folder with include/cublas_v2.h and lib/libcublas.so*;
#   3. the `nvidia-cublas` pip wheel (`pip install nvidia-cublas`: nvidia/cu13/{include,lib}, or
#      nvidia/cublas/{include,lib} for CUDA 12 wheels) of the python3 on PATH (or LMP_PYTHON).
# Sets LMP_CUBLAS_FOUND in the caller's scope. The library's folder goes into the build RPATH (the
# wheel's libcublas.so.13 is not on the loader's path). Only CUDA builds call this: the CPU addon and
# the emulated parity binary never need cuBLAS.
function(lmp_link_cublas target)
  set(LMP_CUBLAS_FOUND OFF PARENT_SCOPE)
  find_package(CUDAToolkit QUIET)
  if(TARGET CUDA::cublas)
    get_target_property(_inc CUDA::cublas INTERFACE_INCLUDE_DIRECTORIES)
    find_path(_lmp_tk_cublas_h cublas_v2.h PATHS ${CUDAToolkit_INCLUDE_DIRS} ${_inc} NO_DEFAULT_PATH)
    if(_lmp_tk_cublas_h)
      target_link_libraries(${target} PRIVATE CUDA::cublas)
      message(STATUS "lmp: cuBLAS from the CUDA toolkit (${_lmp_tk_cublas_h})")
      set(LMP_CUBLAS_FOUND ON PARENT_SCOPE)
      return()
    endif()
  endif()
  set(_roots)
  if(DEFINED LMP_CUBLAS_ROOT)  # bench/gpu/check.sh's name for the same folder
    list(APPEND _roots ${LMP_CUBLAS_ROOT})
  endif()
  if(DEFINED LMP_CUBLAS_DIR)
    list(APPEND _roots ${LMP_CUBLAS_DIR})
  endif()
  if(DEFINED ENV{LMP_CUBLAS_DIR})
    list(APPEND _roots $ENV{LMP_CUBLAS_DIR})
  endif()
  set(_py ${LMP_PYTHON})
  if(NOT _py)
    find_program(_py NAMES python3 python)
  endif()
  if(_py)
    execute_process(
      COMMAND ${_py} -c "import importlib.util as u; s = u.find_spec('nvidia'); print(';'.join(s.submodule_search_locations) if s else '')"
      OUTPUT_VARIABLE _nv OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
    if(_rc EQUAL 0 AND _nv)
      foreach(_d ${_nv})
        list(APPEND _roots ${_d}/cu13 ${_d}/cublas ${_d}/cu12)
      endforeach()
    endif()
  endif()
  foreach(_r ${_roots})
    if(EXISTS ${_r}/include/cublas_v2.h)
      find_library(_lib NAMES cublas libcublas.so.13 libcublas.so.12 PATHS ${_r}/lib ${_r}/lib64 NO_DEFAULT_PATH)
      if(_lib)
        get_filename_component(_libdir ${_lib} DIRECTORY)
        target_include_directories(${target} PRIVATE ${_r}/include)
        target_link_libraries(${target} PRIVATE ${_lib})
        set_property(TARGET ${target} APPEND PROPERTY BUILD_RPATH ${_libdir})
        message(STATUS "lmp: cuBLAS from ${_r} (${_lib})")
        set(LMP_CUBLAS_FOUND ON PARENT_SCOPE)
        unset(_lib CACHE)
        return()
      endif()
      unset(_lib CACHE)
    endif()
  endforeach()
  message(STATUS "lmp: cuBLAS not found (no CUDA::cublas, LMP_CUBLAS_DIR or nvidia-cublas wheel); the GEMM wrapper fails with LMP_E_CUDA")
endfunction()
