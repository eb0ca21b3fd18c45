# SPDX-License-Identifier: BSD-3-Clause
# Installs the headers and an osbiConfig.cmake that find_dependency()s what osbi::osbi links.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(OSBI_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/osbi" CACHE STRING "Where osbiConfig.cmake is installed")

install(TARGETS osbi EXPORT osbiTargets)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/osbi" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(EXPORT osbiTargets NAMESPACE osbi:: DESTINATION "${OSBI_INSTALL_CMAKEDIR}")

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/osbiConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/osbiConfig.cmake" INSTALL_DESTINATION "${OSBI_INSTALL_CMAKEDIR}")
# Header-only: the package fits any architecture, so the version file must not pin one.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/osbiConfigVersion.cmake" COMPATIBILITY SameMinorVersion
                                 ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/osbiConfig.cmake" "${PROJECT_BINARY_DIR}/osbiConfigVersion.cmake"
        DESTINATION "${OSBI_INSTALL_CMAKEDIR}")
