# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The application a module acts on (plugins/module_utils/kube/args_common.py APP_TARGET_SPEC).
    DOCUMENTATION = r"""
options:
  name:
    description: Application name (O(redundant.kube.app#module:name)).
    type: str
    required: true
  namespace:
    description: Namespace of the application.
    type: str
    default: default
"""
