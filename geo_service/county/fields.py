"""What a county's files hold: for each kind of file, the fields the import reads and the column
names (Chinese and English, as county offices and GIS tools write them) each is recognised by.

This table is the one place the column names live; the README's "Bringing your own county"
section lists it. A kind is recognised from the columns a file has (``sources.recognise``).
"""

from __future__ import annotations

from geo_service.i18n import t

# kind -> field -> the column names it is recognised by (compared after normalising case, spaces,
# full-width characters and punctuation; a Shapefile's 10-byte names match by prefix).
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "county": {
        "code": ("county_code", "xzqdm", "县级代码", "县代码", "行政区划代码", "区划代码", "code"),
        "name": ("county_name", "xzqmc", "县名称", "县名", "行政区划名称", "name"),
    },
    "towns": {
        "code": ("town_code", "xzdm", "乡镇代码", "乡镇街道代码", "街道代码", "乡镇编码", "code"),
        "name": ("town_name", "xzmc", "乡镇名称", "乡镇街道名称", "街道名称", "乡镇", "name"),
        "kind": ("town_kind", "乡镇类型", "类型", "kind"),
        "population": ("population", "人口", "人口数", "户籍人口", "常住人口"),
        "households": ("households", "户数"),
    },
    "villages": {
        "code": ("village_code", "cdm", "村代码", "村社区代码", "村（社区）代码", "社区代码", "村居代码", "code"),
        "name": ("village_name", "cmc", "村名称", "村社区名称", "村（社区）名称", "社区名称", "村名", "name"),
        "town_code": ("town_code", "xzdm", "乡镇代码", "所属乡镇代码", "所属乡镇"),
        "kind": ("village_kind", "村社区类型", "类型", "kind"),
        "population": ("population", "人口", "人口数", "户籍人口", "常住人口"),
        "households": ("households", "户数"),
    },
    "grids": {
        "code": ("grid_code", "wgbm", "wgdm", "网格编码", "网格代码", "网格编号", "code"),
        "name": ("grid_name", "wgmc", "网格名称", "网格名", "name"),
        "level": ("grid_level", "网格级别", "网格层级", "级别", "level"),
        "kind": ("grid_kind", "网格类型", "类型", "kind"),
        "village_code": ("village_code", "cdm", "村代码", "所属村社区代码", "所属村（社区）", "所属社区"),
        "population": ("population", "人口", "人口数"),
        "households": ("households", "户数"),
    },
    "roster": {
        "name": ("name", "姓名", "人员姓名"),
        "title": ("title", "job_title", "position", "职务", "岗位", "职位", "身份"),
        "phone": ("phone", "mobile", "tel", "联系电话", "手机号", "手机号码", "电话"),
        "unit_code": ("unit_code", "所属单位代码", "负责区域代码", "网格编码", "村社区代码", "单位代码", "区划代码"),
        "unit_name": ("unit_name", "所属单位", "负责区域", "所在村社区", "网格名称"),
        "start_date": ("start_date", "valid_from", "任职日期", "上岗日期", "开始日期", "任职时间", "起始日期"),
        "end_date": ("end_date", "valid_to", "离任日期", "结束日期", "卸任日期"),
        "officer_code": ("officer_code", "staff_id", "工号", "人员编号", "编号"),
        "gender": ("gender", "sex", "性别"),
    },
    "cameras": {
        "code": ("device_code", "camera_code", "设备编码", "设备编号", "国标编码", "国标编号", "点位编码"),
        "name": ("camera_name", "device_name", "设备名称", "点位名称", "名称", "name"),
        "kind": ("camera_kind", "kind", "类型", "设备类型", "建设类型", "所属系统", "项目"),
        "lon": ("lon", "lng", "longitude", "x", "经度"),
        "lat": ("lat", "latitude", "y", "纬度"),
        "heading": ("heading", "heading_deg", "azimuth", "方向", "朝向", "方位角", "水平角"),
        "fov": ("fov", "fov_deg", "视场角", "视角"),
        "range": ("range", "range_m", "可视距离", "监控距离", "视距"),
        "status": ("status", "在线状态", "状态", "设备状态"),
        "installed_on": ("installed_on", "安装日期", "建设日期", "启用日期"),
    },
    "incidents": {
        "external_id": ("external_id", "case_id", "event_id", "事件编号", "案件编号", "工单编号", "编号"),
        "category": ("category", "事件类型", "事件大类", "案件类型", "类别", "大类"),
        "subcategory": ("subcategory", "事件小类", "小类", "子类"),
        "source": ("source", "事件来源", "来源", "信息来源"),
        "status": ("status", "事件状态", "办理状态", "状态", "案件状态"),
        "risk_colour": ("risk_colour", "risk", "风险等级", "预警等级", "风险颜色"),
        "reported_at": ("reported_at", "上报时间", "发生时间", "登记时间", "受理时间", "报告时间"),
        "dispatched_at": ("dispatched_at", "派遣时间", "分拨时间", "交办时间"),
        "deadline": ("deadline", "办理时限", "截止时间", "应办结时间"),
        "resolved_at": ("resolved_at", "处置时间", "办理完成时间", "处置完成时间"),
        "closed_at": ("closed_at", "办结时间", "结案时间", "关闭时间"),
        "satisfaction": ("satisfaction", "满意度", "回访满意度", "回访结果"),
        "description": ("description", "事件描述", "事件内容", "内容", "描述", "诉求内容"),
        "address": ("address", "地址", "事发地址", "发生地点"),
        "reporter_name": ("reporter_name", "上报人", "反映人", "报告人"),
        "reporter_phone": ("reporter_phone", "上报人电话", "反映人电话", "联系方式"),
        "lon": ("lon", "lng", "longitude", "x", "经度"),
        "lat": ("lat", "latitude", "y", "纬度"),
    },
}

# A per-row datum column, in any kind of file with coordinates.
DATUM_COLUMN: tuple[str, ...] = ("crs", "datum", "坐标系", "坐标系统")

# The fields without which a row of each kind cannot load.
REQUIRED: dict[str, tuple[str, ...]] = {
    "county": ("geometry",),
    "towns": ("code", "name", "geometry"),
    "villages": ("code", "name", "geometry"),
    "grids": ("code", "geometry"),
    "roster": ("name", "title", "unit_code"),
    "cameras": ("code", "lon", "lat"),
    "incidents": ("external_id", "category", "reported_at", "lon", "lat"),
}

# Kinds in the order they are loaded: places before the people, cameras and cases in them.
KINDS: tuple[str, ...] = ("county", "towns", "villages", "grids", "roster", "cameras", "incidents")
SPATIAL_KINDS: tuple[str, ...] = ("county", "towns", "villages", "grids")
POINT_KINDS: tuple[str, ...] = ("cameras", "incidents")
# Each kind as a message names it (the English is the kind's own code).
KIND_NAMES = {
    "county": t("county"),
    "towns": t("towns"),
    "villages": t("villages"),
    "grids": t("grids"),
    "roster": t("roster"),
    "cameras": t("cameras"),
    "incidents": t("incidents"),
}
