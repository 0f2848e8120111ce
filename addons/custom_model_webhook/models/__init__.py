from . import base
from . import update_webhook
from . import webhook_tracked_model
from . import webhook_app_type
from . import webhook_app_type_model
from . import user_sync_state
from . import webhook_archiver
from . import res_config_settings
