// Generated from the OpenAPI document (worker/openapi/) by `npm run client:gen`. Do not edit.

export interface components {
  schemas: {
    ChatMessage: {
      role: "system";
      content: string | ({
        type: "text";
        text: string;
      })[];
      name?: string;
    } | {
      role: "developer";
      content: string | ({
        type: "text";
        text: string;
      })[];
      name?: string;
    } | {
      role: "user";
      content: string | ({
        type: "text";
        text: string;
      } | {
        type: "image_url";
        image_url: {
          url: string;
          detail?: "auto" | "low" | "high";
        };
      } | {
        type: "input_audio";
        input_audio: {
          data: string;
          format: "wav" | "mp3";
        };
      } | {
        type: "video_url";
        video_url: {
          url: string;
        };
      })[];
      name?: string;
    } | {
      role: "assistant";
      content?: string | ({
        type: "text";
        text: string;
      } | {
        type: "refusal";
        refusal: string;
      })[] | null;
      refusal?: string | null;
      tool_calls?: ({
        id: string;
        type: "function";
        function: {
          name: string;
          arguments: string;
        };
      })[];
      name?: string;
    } | {
      role: "tool";
      content: string | ({
        type: "text";
        text: string;
      })[];
      tool_call_id: string;
    };
    RouteRequest: {
      /** Echoed back; default the decision id. */
      requestId?: string;
      task: {
        modality: "text" | "image" | "audio" | "video" | "multimodal";
        /** A catalog id (GET /v1/catalog), or `auto` (default): the smallest adequate model. */
        model?: string;
        /** Prompt size incl. media tokens; default by modality. */
        inputTokens?: number;
        /** Default 256. */
        maxOutputTokens?: number;
        /** Upload size; default by modality (an image 200 KB, …). */
        payloadBytes?: number;
        /** Default `standard`; `sheddable` is refused (503) rather than queued. */
        criticality?: "critical" | "standard" | "sheddable";
      };
      constraints: {
        /** The latency the answer should meet, in ms; when no target is expected to meet it, the request gets a best effort (`bestEffort`) where it is expected soonest. */
        latencySlaMs: number;
        /** What the SLA bounds: the `complete` answer (default) or the `first_token`. */
        latencyTarget?: "complete" | "first_token";
        /** Per-request budget in USD. */
        maxCostUsd?: number;
        /** `strict`: device or trusted MEC sites only, never the cloud; `sensitive`: the cloud only inside `dataResidency`; default `public`. */
        privacy?: "public" | "sensitive" | "strict";
        /** Countries (`DE`) or zones (`EU`, `EEA`) every non-device target must be in. */
        dataResidency?: string[];
        /** Certifications every target must hold (`gdpr`, `hipaa`, …). */
        compliance?: string[];
      };
      device?: {
        /** On-device model variants installed (`llama-3.2-1b-q4`, …). */
        models?: string[];
        /** Default 100; < 20 and not charging counts against the device. */
        batteryPct?: number;
        charging?: boolean;
        /** `serious` throttles and counts against the device; `critical` rules it out. */
        thermal?: "nominal" | "fair" | "serious" | "critical";
        /** Default 2048; the model must fit. */
        memoryFreeMb?: number;
        /** On-device speed class; default `mid`. */
        class?: "low" | "mid" | "high";
      };
      network?: {
        /** `offline` leaves the device tier only; default `unknown`. */
        type?: "5g" | "4g" | "wifi" | "offline" | "unknown";
        /** Round trip to the access edge; default by type. */
        rttMs?: number;
        uplinkMbps?: number;
        downlinkMbps?: number;
      };
      /** Where the device is: picks the nearest sites; default from the Cloudflare edge. */
      location?: {
        lat: number;
        lon: number;
      };
      /** Take a slot at the chosen MEC site now and answer with a `lease`. */
      reserve?: boolean;
      /** Nova reasoning: `auto` (default) when the rules are unsure, `force`, or `off`. */
      reasoning?: "off" | "auto" | "force";
    };
    ChatCompletionsRequest: {
      model: string;
      messages: components["schemas"]["ChatMessage"][];
      stream?: boolean | null;
      stream_options?: {
        include_usage?: boolean;
        [key: string]: unknown;
      } | null;
      max_tokens?: number | null;
      max_completion_tokens?: number | null;
      temperature?: number | null;
      top_p?: number | null;
      stop?: string | string[] | null;
      n?: 1 | null;
      user?: string;
      tools?: ({
        type: "function";
        function: {
          name: string;
          description?: string;
          parameters?: {
            [key: string]: unknown;
          };
          strict?: boolean | null;
        };
      })[];
      tool_choice?: "none" | "auto" | "required" | {
        type: "function";
        function: {
          name: string;
        };
      };
      mec?: {
        [key: string]: unknown;
      };
      frequency_penalty?: number | null;
      presence_penalty?: number | null;
      seed?: number | null;
      logprobs?: boolean | null;
      top_logprobs?: number | null;
      response_format?: {
        type: string;
        [key: string]: unknown;
      };
      parallel_tool_calls?: boolean | null;
      metadata?: {
        [key: string]: unknown;
      } | null;
      service_tier?: string | null;
      store?: boolean | null;
    };
    InferRequest: {
      /** Echoed back; default the decision id. */
      requestId?: string;
      task: {
        modality: "text" | "image" | "audio" | "video" | "multimodal";
        /** A catalog id (GET /v1/catalog), or `auto` (default): the smallest adequate model. */
        model?: string;
        /** Prompt size incl. media tokens; default by modality. */
        inputTokens?: number;
        /** Default 256. */
        maxOutputTokens?: number;
        /** Upload size; default by modality (an image 200 KB, …). */
        payloadBytes?: number;
        /** Default `standard`; `sheddable` is refused (503) rather than queued. */
        criticality?: "critical" | "standard" | "sheddable";
      };
      constraints: {
        /** The latency the answer should meet, in ms; when no target is expected to meet it, the request gets a best effort (`bestEffort`) where it is expected soonest. */
        latencySlaMs: number;
        /** What the SLA bounds: the `complete` answer (default) or the `first_token`. */
        latencyTarget?: "complete" | "first_token";
        /** Per-request budget in USD. */
        maxCostUsd?: number;
        /** `strict`: device or trusted MEC sites only, never the cloud; `sensitive`: the cloud only inside `dataResidency`; default `public`. */
        privacy?: "public" | "sensitive" | "strict";
        /** Countries (`DE`) or zones (`EU`, `EEA`) every non-device target must be in. */
        dataResidency?: string[];
        /** Certifications every target must hold (`gdpr`, `hipaa`, …). */
        compliance?: string[];
      };
      device?: {
        /** On-device model variants installed (`llama-3.2-1b-q4`, …). */
        models?: string[];
        /** Default 100; < 20 and not charging counts against the device. */
        batteryPct?: number;
        charging?: boolean;
        /** `serious` throttles and counts against the device; `critical` rules it out. */
        thermal?: "nominal" | "fair" | "serious" | "critical";
        /** Default 2048; the model must fit. */
        memoryFreeMb?: number;
        /** On-device speed class; default `mid`. */
        class?: "low" | "mid" | "high";
      };
      network?: {
        /** `offline` leaves the device tier only; default `unknown`. */
        type?: "5g" | "4g" | "wifi" | "offline" | "unknown";
        /** Round trip to the access edge; default by type. */
        rttMs?: number;
        uplinkMbps?: number;
        downlinkMbps?: number;
      };
      /** Where the device is: picks the nearest sites; default from the Cloudflare edge. */
      location?: {
        lat: number;
        lon: number;
      };
      /** Take a slot at the chosen MEC site now and answer with a `lease`. */
      reserve?: boolean;
      /** Nova reasoning: `auto` (default) when the rules are unsure, `force`, or `off`. */
      reasoning?: "off" | "auto" | "force";
      input: {
        prompt?: string;
        messages?: components["schemas"]["ChatMessage"][];
        media?: ({
          type: "image" | "audio" | "video";
          data?: string;
          url?: string;
          format?: string;
        })[];
      };
    };
    ReportOutcomeRequest: {
      decisionId?: string;
      leaseId?: string;
      siteId?: string;
      model?: string;
      ok: boolean;
      latencyMs?: number;
      ttftMs?: number;
      errorClass?: "timeout" | "connect" | "http_4xx" | "http_5xx" | "stream" | "other";
    };
    PutSiteRequest: {
      id?: string;
      name: string;
      location: {
        lat: number;
        lon: number;
      };
      country: string;
      trusted: boolean;
      certifications: string[];
      endpoint: string;
      controlEndpoint?: string;
      faultDomain?: string;
      scheduling?: "fcfs" | "priority";
      capacity: {
        maxConcurrent: number;
        maxQueue: number;
        gpus: number;
        gpuMemoryGb: number;
      };
      cost: {
        gpuHourUsd: number;
      };
      models: ({
        model: string;
        tokensPerSec?: number;
        loadTimeMs?: number;
      })[];
      residentModels?: string[];
    };
    SiteHeartbeatRequest: {
      metrics: {
        "vllm:num_requests_waiting": number;
        "vllm:num_requests_running": number;
        "vllm:kv_cache_usage_perc"?: number;
      };
      gpuUtilization?: number;
      freeGpuMemoryGb?: number;
      residentModels?: ({
        model: string;
        sizeGb?: number;
        lastUsedAt?: number;
      })[];
      tokensPerSec?: {
        [key: string]: number;
      };
    };
    LoadSiteModelRequest: {
      model: string;
    };
    CreateProposalRequest: {
      /** Score weights, each 0–1; the base policy has 0.45, 0.25, 0.1, 0.2. */
      weights: {
        latency: number;
        cost: number;
        privacy: number;
        reliability: number;
      };
      /** Why, for the approver. */
      rationale: string;
      /** How sure the proposer is, 0–1 (default 1). */
      confidence?: number;
    };
    CreateTenantRequest: {
      id: string;
      name: string;
      budget?: {
        limitUsd: number;
        period?: "day" | "month";
      };
    };
    UpdateTenantRequest: {
      name?: string;
      status?: "active" | "suspended";
      budget?: {
        limitUsd: number;
        period?: "day" | "month";
      } | null;
    };
    CreateKeyRequest: {
      tenant?: string;
      scope: "device" | "operator" | "site";
      name?: string;
      site?: string;
      expiresAt?: number;
    };
    RotateKeyRequest: {
      overlapSeconds?: number;
    };
    LoginRequest: {
      key: string;
    };
    McpRequest: {
      jsonrpc: "2.0";
      id?: string | number;
      method: string;
      params?: {
        [key: string]: unknown;
      };
      [key: string]: unknown;
    };
    Error: {
      error: {
        code: string;
        message: string;
        details?: unknown;
      };
    };
    Target: {
      kind: "device";
    } | {
      kind: "site";
      siteId: string;
      endpoint: string;
      priority?: number;
    } | {
      kind: "cloud";
      region: string;
      modelId: string;
    };
    RouteAnswer: {
      tier: "device" | "mec" | "cloud";
      target: components["schemas"]["Target"];
      model: string;
      classification: "simple" | "complex" | "critical";
      complexity: number;
      confidence: number;
      confidenceLevel: "high" | "medium" | "low";
      predicted: {
        latencyMs: number;
        worstLatencyMs: number;
        firstTokenMs: number;
        costUsd: number;
      };
      bestEffort: boolean;
      resources: {
        memoryGb: number;
        cpuCores: number;
        gpuUnits: number;
        bandwidthMbps: number;
      };
      plan: {
        primary: {
          tier: "device" | "mec" | "cloud";
          target: components["schemas"]["Target"];
          model: string;
          predictedLatencyMs: number;
          worstLatencyMs: number;
          predictedCostUsd: number;
          timeoutMs: number;
        };
        backups: ({
          tier: "device" | "mec" | "cloud";
          target: components["schemas"]["Target"];
          model: string;
          predictedLatencyMs: number;
          worstLatencyMs: number;
          predictedCostUsd: number;
          timeoutMs: number;
        })[];
        timeoutMs: number;
        retry: {
          maxAttempts: number;
          baseDelayMs: number;
          maxDelayMs: number;
        };
      };
      rationale: ({
        factor: string;
        detail: string;
      })[];
      rejected: ({
        target: string;
        reason: "privacy" | "residency" | "compliance" | "modality" | "breaker" | "capacity" | "device" | "network" | "sla" | "budget";
        detail: string;
      })[];
      reasoner: "rules" | "nova-pro";
      requestId: string;
      decisionId: string;
      policyVariant: string;
      lease?: {
        id: string;
        siteId: string;
        expiresAt: number;
      };
    };
    ChatCompletion: {
      id: string;
      object: "chat.completion";
      created: number;
      model: string;
      choices: ({
        index: number;
        message: {
          role: "assistant";
          content: string | null;
          [key: string]: unknown;
        };
        finish_reason: string | null;
        [key: string]: unknown;
      })[];
      usage?: {
        prompt_tokens: number;
        completion_tokens: number;
        total_tokens: number;
        [key: string]: unknown;
      };
      [key: string]: unknown;
    };
    InferAnswer: {
      executed: false;
      decision: components["schemas"]["RouteAnswer"];
    } | {
      executed: true;
      decision: components["schemas"]["RouteAnswer"];
      output: components["schemas"]["ChatCompletion"];
    };
    OutcomeAnswer: {
      accepted: true;
      released: boolean;
    };
    Catalog: {
      models: ({
        id: string;
        name: string;
        modalities: ("text" | "image" | "audio" | "video" | "multimodal")[];
        quality: 1 | 2 | 3 | 4;
        paramsB: number;
        contextTokens: number;
        device?: {
          variant: string;
          ramMb: number;
          prefillTokensPerSec: number;
          tokensPerSec: {
            [key: string]: number;
          };
        };
        mec?: {
          gpuMemoryGb: number;
          prefillTokensPerSec: number;
          tokensPerSec: number;
          loadTimeMs: number;
          kvBytesPerToken: number;
        };
        cloud?: {
          modelId: string;
          inputPer1kUsd: number;
          outputPer1kUsd: number;
          tokensPerSec: number;
          ttftMs: number;
        };
      })[];
    };
    SiteView: {
      id: string;
      name: string;
      location: {
        lat: number;
        lon: number;
      };
      country: string;
      trusted: boolean;
      certifications: string[];
      endpoint: string;
      faultDomain: string;
      capacity: {
        maxConcurrent: number;
        maxQueue: number;
        gpus: number;
        gpuMemoryGb: number;
      };
      cost: {
        gpuHourUsd: number;
      };
      models: ({
        model: string;
        tokensPerSec?: number;
        loadTimeMs?: number;
      })[];
      load: {
        waiting: number;
        running: number;
        kvCacheUsage: number;
        gpuUtilization: number;
        freeGpuMemoryGb: number;
        residentModels: string[];
        updatedAt: number;
        waitingByClass?: {
          critical: number;
          standard: number;
          sheddable: number;
        };
      };
      scheduling?: "fcfs" | "priority";
      breaker: "closed" | "open" | "half_open";
      trafficShare: number;
      errorRate: number;
      draining: boolean;
      healthy: boolean;
    };
    Fleet: {
      version: number;
      sites: components["schemas"]["SiteView"][];
      services: ({
        service: string;
        breaker: "closed" | "open" | "half_open";
        errorRate: number;
        updatedAt: number;
      })[];
    };
    SiteAnswer: {
      site: components["schemas"]["SiteView"];
    };
    SiteDetail: {
      registration: {
        id: string;
        name: string;
        location: {
          lat: number;
          lon: number;
        };
        country: string;
        trusted: boolean;
        certifications: string[];
        endpoint: string;
        controlEndpoint?: string;
        faultDomain?: string;
        scheduling?: "fcfs" | "priority";
        capacity: {
          maxConcurrent: number;
          maxQueue: number;
          gpus: number;
          gpuMemoryGb: number;
        };
        cost: {
          gpuHourUsd: number;
        };
        models: ({
          model: string;
          tokensPerSec?: number;
          loadTimeMs?: number;
        })[];
        residentModels: string[];
      };
      view: components["schemas"]["SiteView"];
      breaker: {
        v: 1;
        phase: "closed" | "open" | "half_open";
        window: string;
        consecutiveFailures: number;
        ejections: number;
        openUntil: number;
        probes: number[];
        probeOk: number;
        closedAt: number | null;
      };
      cache: {
        resident: ({
          model: string;
          sizeGb: number;
          loadTimeMs: number;
          loadedAt: number;
          lastUsedAt: number;
          pinned?: boolean;
        })[];
        demand: {
          [key: string]: {
            count: number;
            at: number;
          };
        };
      };
      leases: number;
      lastProbeAt: number;
      lastProbeOk: boolean;
      priorityRefused?: boolean;
    };
    HeartbeatAnswer: {
      ok: true;
      healthy: boolean;
      breaker: "closed" | "open" | "half_open";
    };
    ModelLoadAnswer: {
      ok: true;
      resident: true;
      loaded: boolean;
      evicted: string[];
    };
    Anomaly: {
      id: string;
      detectedAt: number;
      minute: number;
      kind: string;
      tier: string | null;
      target: string | null;
      model: string | null;
      metric: string;
      observed: number;
      expected: number | null;
      score: number | null;
      severity: string;
      detail: unknown;
      resolvedAt: number | null;
    };
    Anomalies: {
      from: number;
      to: number;
      anomalies: components["schemas"]["Anomaly"][];
    };
    AnalyticsWindow: {
      from: number;
      to: number;
      stepMs: number;
      points: number;
    };
    AnalyticsSummary: {
      window: components["schemas"]["AnalyticsWindow"];
      totals: {
        decisions: number;
        outcomes: number;
        errors: number;
        slaMet: number;
        slaKnown: number;
        costUsd: number;
        failovers: number;
        attempts: number;
        errorRate: number | null;
        slaAttainment: number | null;
        meanLatencyMs: number | null;
      };
      tiers: {
        device: {
          decisions: number;
          outcomes: number;
          errors: number;
          slaMet: number;
          slaKnown: number;
          costUsd: number;
          failovers: number;
          attempts: number;
          errorRate: number | null;
          slaAttainment: number | null;
          meanLatencyMs: number | null;
        };
        mec: {
          decisions: number;
          outcomes: number;
          errors: number;
          slaMet: number;
          slaKnown: number;
          costUsd: number;
          failovers: number;
          attempts: number;
          errorRate: number | null;
          slaAttainment: number | null;
          meanLatencyMs: number | null;
        };
        cloud: {
          decisions: number;
          outcomes: number;
          errors: number;
          slaMet: number;
          slaKnown: number;
          costUsd: number;
          failovers: number;
          attempts: number;
          errorRate: number | null;
          slaAttainment: number | null;
          meanLatencyMs: number | null;
        };
      };
      latency: {
        count: number;
        p50: number | null;
        p95: number | null;
        p99: number | null;
      };
      ttft: {
        count: number;
        p50: number | null;
        p95: number | null;
        p99: number | null;
      };
      nova: {
        calls: number;
        costUsd: number;
        fallbacks: number;
      };
      anomalies: {
        open: number;
        total: number;
      };
    };
    AnalyticsTimeseries: {
      window: components["schemas"]["AnalyticsWindow"];
      t: number[];
      total: {
        decisions: number[];
        outcomes: number[];
        errors: number[];
        slaMet: number[];
        slaKnown: number[];
        costUsd: number[];
        failovers: number[];
        attempts: number[];
        errorRate: (number | null)[];
        slaAttainment: (number | null)[];
        meanLatencyMs: (number | null)[];
      };
      tiers: {
        device: {
          decisions: number[];
          outcomes: number[];
          errors: number[];
          slaMet: number[];
          slaKnown: number[];
          costUsd: number[];
          failovers: number[];
          attempts: number[];
          errorRate: (number | null)[];
          slaAttainment: (number | null)[];
          meanLatencyMs: (number | null)[];
        };
        mec: {
          decisions: number[];
          outcomes: number[];
          errors: number[];
          slaMet: number[];
          slaKnown: number[];
          costUsd: number[];
          failovers: number[];
          attempts: number[];
          errorRate: (number | null)[];
          slaAttainment: (number | null)[];
          meanLatencyMs: (number | null)[];
        };
        cloud: {
          decisions: number[];
          outcomes: number[];
          errors: number[];
          slaMet: number[];
          slaKnown: number[];
          costUsd: number[];
          failovers: number[];
          attempts: number[];
          errorRate: (number | null)[];
          slaAttainment: (number | null)[];
          meanLatencyMs: (number | null)[];
        };
      };
    };
    AnalyticsLatency: {
      window: components["schemas"]["AnalyticsWindow"];
      metric: "latency" | "ttft";
      t: number[];
      total: {
        count: number[];
        p50: (number | null)[];
        p95: (number | null)[];
        p99: (number | null)[];
      };
      tiers: {
        device: {
          count: number[];
          p50: (number | null)[];
          p95: (number | null)[];
          p99: (number | null)[];
        };
        mec: {
          count: number[];
          p50: (number | null)[];
          p95: (number | null)[];
          p99: (number | null)[];
        };
        cloud: {
          count: number[];
          p50: (number | null)[];
          p95: (number | null)[];
          p99: (number | null)[];
        };
      };
      overall: {
        count: number;
        p50: number | null;
        p95: number | null;
        p99: number | null;
        tiers: {
          device: {
            count: number;
            p50: number | null;
            p95: number | null;
            p99: number | null;
          };
          mec: {
            count: number;
            p50: number | null;
            p95: number | null;
            p99: number | null;
          };
          cloud: {
            count: number;
            p50: number | null;
            p95: number | null;
            p99: number | null;
          };
        };
      };
    };
    AnalyticsTargets: {
      window: components["schemas"]["AnalyticsWindow"];
      targets: ({
        decisions: number;
        outcomes: number;
        errors: number;
        slaMet: number;
        slaKnown: number;
        costUsd: number;
        failovers: number;
        attempts: number;
        errorRate: number | null;
        slaAttainment: number | null;
        meanLatencyMs: number | null;
        tier: "device" | "mec" | "cloud";
        target: string;
        latency: {
          count: number;
          p50: number | null;
          p95: number | null;
          p99: number | null;
        };
      })[];
      truncated: boolean;
    };
    AnalyticsNova: {
      window: components["schemas"]["AnalyticsWindow"];
      t: number[];
      roles: {
        micro: {
          calls: number[];
          fallbacks: number[];
          inputTokens: number[];
          outputTokens: number[];
          costUsd: number[];
        };
        lite: {
          calls: number[];
          fallbacks: number[];
          inputTokens: number[];
          outputTokens: number[];
          costUsd: number[];
        };
        pro: {
          calls: number[];
          fallbacks: number[];
          inputTokens: number[];
          outputTokens: number[];
          costUsd: number[];
        };
        review: {
          calls: number[];
          fallbacks: number[];
          inputTokens: number[];
          outputTokens: number[];
          costUsd: number[];
        };
      };
      totals: ({
        role: "micro" | "lite" | "pro" | "review";
        calls: number;
        fallbacks: number;
        byOutcome: {
          [key: string]: number;
        };
        inputTokens: number;
        outputTokens: number;
        costUsd: number;
        meanLatencyMs: number | null;
        models: string[];
      })[];
    };
    AnalyticsAnomalies: {
      window: components["schemas"]["AnalyticsWindow"];
      anomalies: components["schemas"]["Anomaly"][];
    };
    AnalyticsDecisions: {
      window: components["schemas"]["AnalyticsWindow"];
      decisions: ({
        id: string;
        time: number;
        tier: "device" | "mec" | "cloud";
        target: string;
        model: string;
        classification: string;
        confidence: number;
        reasoner: string;
        policyVariant: string;
        modality: string;
        privacy: string;
        predicted: {
          latencyMs: number;
          costUsd: number;
        };
        outcome: {
          id: string;
          time: number;
          ok: boolean;
          finalTier: "device" | "mec" | "cloud";
          finalTarget: string;
          finalModel: string;
          errorClass: string | null;
          latencyMs: number;
          ttftMs: number | null;
          attempts: number;
          failover: boolean;
          slaMet: boolean | null;
          costUsd: number;
        } | null;
      })[];
      next: string | null;
    };
    DecisionDetail: {
      decision: {
        id: string;
        time: number;
        tier: "device" | "mec" | "cloud";
        target: string;
        model: string;
        classification: string;
        confidence: number;
        reasoner: string;
        policyVariant: string;
        modality: string;
        privacy: string;
        predicted: {
          latencyMs: number;
          firstTokenMs: number;
          costUsd: number;
        };
        outcome: {
          id: string;
          time: number;
          ok: boolean;
          finalTier: "device" | "mec" | "cloud";
          finalTarget: string;
          finalModel: string;
          errorClass: string | null;
          latencyMs: number;
          ttftMs: number | null;
          attempts: number;
          failover: boolean;
          slaMet: boolean | null;
          costUsd: number;
        } | null;
        request: {
          modality: string;
          modelAsked: string;
          inputTokens: number;
          maxOutputTokens: number;
          payloadBytes: number;
          criticality: string;
          privacy: string;
          residencyCount: number;
          complianceCount: number;
          latencySlaMs: number;
          latencyTarget: string;
          networkType: string;
          deviceClass: string;
          hasLocation: boolean;
        };
        complexity: number;
        backups: number;
        rationale: ({
          factor: string;
          detail?: string;
        })[];
        rejected: ({
          target: string;
          reason: "privacy" | "residency" | "compliance" | "modality" | "breaker" | "capacity" | "device" | "network" | "sla" | "budget";
          detail?: string;
        })[];
        rejectedTotal: number | null;
        plan: ({
          tier: "device" | "mec" | "cloud";
          target: string;
          model: string;
          predictedLatencyMs: number;
          predictedCostUsd: number;
          timeoutMs: number;
        })[] | null;
      };
      outcomes: ({
        id: string;
        time: number;
        ok: boolean;
        finalTier: "device" | "mec" | "cloud";
        finalTarget: string;
        finalModel: string;
        errorClass: string | null;
        latencyMs: number;
        ttftMs: number | null;
        attempts: number;
        failover: boolean;
        slaMet: boolean | null;
        costUsd: number;
        attemptLog: ({
          target: string;
          tier: "device" | "mec" | "cloud";
          ok: boolean;
          errorClass?: string;
          latencyMs: number;
        })[] | null;
      })[];
    };
    AnalyticsFleet: {
      generatedAt: number;
      version: number;
      sites: ({
        id: string;
        name: string;
        location: {
          lat: number;
          lon: number;
        };
        country: string;
        trusted: boolean;
        healthy: boolean;
        draining: boolean;
        breaker: "closed" | "open" | "half_open";
        trafficShare: number;
        errorRate: number;
        load: {
          waiting: number;
          running: number;
          kvCacheUsage: number;
          gpuUtilization: number;
          freeGpuMemoryGb: number;
          updatedAt: number;
          utilization: number;
        };
        capacity: {
          maxConcurrent: number;
          maxQueue: number;
          gpus: number;
          gpuMemoryGb: number;
        };
        models: string[];
        residentModels: string[];
      })[];
      services: ({
        service: string;
        breaker: "closed" | "open" | "half_open";
        errorRate: number;
        updatedAt: number;
      })[];
      counts: {
        sites: number;
        healthy: number;
        draining: number;
        breakers: {
          closed: number;
          open: number;
          half_open: number;
        };
      };
    };
    AnalyticsSite: {
      site: {
        id: string;
        name: string;
        location: {
          lat: number;
          lon: number;
        };
        country: string;
        trusted: boolean;
        healthy: boolean;
        draining: boolean;
        breaker: "closed" | "open" | "half_open";
        trafficShare: number;
        errorRate: number;
        load: {
          waiting: number;
          running: number;
          kvCacheUsage: number;
          gpuUtilization: number;
          freeGpuMemoryGb: number;
          updatedAt: number;
          utilization: number;
        };
        capacity: {
          maxConcurrent: number;
          maxQueue: number;
          gpus: number;
          gpuMemoryGb: number;
        };
        models: string[];
        residentModels: string[];
      };
      agent: {
        leases: number;
        lastProbeAt: number;
        lastProbeOk: boolean;
        breaker: {
          v: 1;
          phase: "closed" | "open" | "half_open";
          window: string;
          consecutiveFailures: number;
          ejections: number;
          openUntil: number;
          probes: number[];
          probeOk: number;
          closedAt: number | null;
        };
        cache: {
          resident: ({
            model: string;
            sizeGb: number;
            loadTimeMs: number;
            loadedAt: number;
            lastUsedAt: number;
            pinned?: boolean;
          })[];
          demand: {
            [key: string]: {
              count: number;
              at: number;
            };
          };
        };
      };
      recent: {
        window: components["schemas"]["AnalyticsWindow"];
        totals: {
          decisions: number;
          outcomes: number;
          errors: number;
          slaMet: number;
          slaKnown: number;
          costUsd: number;
          failovers: number;
          attempts: number;
          errorRate: number | null;
          slaAttainment: number | null;
          meanLatencyMs: number | null;
        };
        latency: {
          count: number;
          p50: number | null;
          p95: number | null;
          p99: number | null;
        };
      };
    };
    PolicyAnalytics: {
      from: number;
      to: number;
      variants: ({
        variant: string;
        decisions: number;
        outcomes: number;
        errors: number;
        slaMet: number;
        slaKnown: number;
        slaAttainment: number | null;
        costUsd: number;
        meanCostUsd: number | null;
      })[];
    };
    SessionAnswer: {
      session: {
        keyId: string;
        role: "device" | "operator" | "site";
        tenantId: string;
        platform: boolean;
        expiresAt: number;
      };
    };
    CurrentSessionAnswer: {
      session: {
        keyId: string;
        role: "device" | "operator" | "site";
        tenantId: string;
        platform: boolean;
        expiresAt: number;
      } | null;
    };
    TenantAnswer: {
      tenant: {
        id: string;
        name: string;
        status: "active" | "suspended";
        budget: {
          limitUsd: number;
          period: "day" | "month";
        } | null;
        createdAt: number;
        updatedAt: number;
      };
      spending?: {
        period: string;
        periodStart: number;
        periodEnd: number;
        limitUsd: number;
        spentUsd: number;
        reservedUsd: number;
        remainingUsd: number;
      };
    };
    Tenants: {
      tenants: ({
        id: string;
        name: string;
        status: "active" | "suspended";
        budget: {
          limitUsd: number;
          period: "day" | "month";
        } | null;
        createdAt: number;
        updatedAt: number;
      })[];
      next?: string;
    };
    ApiKey: {
      id: string;
      prefix: string;
      tenant: string;
      scope: "device" | "operator" | "site";
      site: string | null;
      name: string | null;
      status: "active" | "revoked" | "expired";
      createdAt: number;
      createdBy: string;
      expiresAt: number | null;
      revokedAt: number | null;
      replacedBy: string | null;
    };
    ApiKeys: {
      keys: components["schemas"]["ApiKey"][];
    };
    IssuedKey: {
      key: string;
      id: string;
      prefix: string;
      tenant: string;
      scope: "device" | "operator" | "site";
      site: string | null;
      name: string | null;
      status: "active" | "revoked" | "expired";
      createdAt: number;
      createdBy: string;
      expiresAt: number | null;
      revokedAt: number | null;
      replacedBy: string | null;
    };
    RotatedKey: {
      key: string;
      id: string;
      prefix: string;
      tenant: string;
      scope: "device" | "operator" | "site";
      site: string | null;
      name: string | null;
      status: "active" | "revoked" | "expired";
      createdAt: number;
      createdBy: string;
      expiresAt: number | null;
      revokedAt: number | null;
      replacedBy: string | null;
      replaces: {
        id: string;
        expiresAt: number;
      };
    };
    Proposal: {
      id: string;
      createdAt: number;
      model: string;
      promptVersion: string;
      summary: unknown;
      weights: {
        latency: number;
        cost: number;
        privacy: number;
        reliability: number;
      } | null;
      rationale: string;
      confidence: number;
      status: "proposed" | "approved" | "rejected";
      decidedAt: number | null;
      decidedBy: string | null;
    };
    Proposals: {
      proposals: components["schemas"]["Proposal"][];
    };
    ProposalAnswer: {
      proposal: components["schemas"]["Proposal"];
    };
    ApprovedProposal: {
      proposal: components["schemas"]["Proposal"];
      policyVariants: ({
        name: string;
        weight: number;
        weights?: {
          latency?: number;
          cost?: number;
          privacy?: number;
          reliability?: number;
        };
      })[];
      policyVariantsJson: string;
    };
    Health: {
      ok: true;
    };
    JsonRpcResponse: {
      jsonrpc: "2.0";
      id: string | number | null;
      result?: {
        [key: string]: unknown;
      };
      error?: {
        code: number;
        message: string;
        [key: string]: unknown;
      };
      [key: string]: unknown;
    };
    OpenApiDocument200: {
      [key: string]: unknown;
    };
    DocsPage200: string;
  };
}

export interface operations {
  /** Decide where a request should run */
  route: {
    body: components["schemas"]["RouteRequest"];
    responses: {
      200: components["schemas"]["RouteAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      402: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      422: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
      503: components["schemas"]["Error"];
    };
  };
  /** Decide and run a chat completion (OpenAI-compatible) */
  chatCompletions: {
    body: components["schemas"]["ChatCompletionsRequest"];
    responses: {
      200: components["schemas"]["ChatCompletion"] | null;
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      402: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      422: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
      502: components["schemas"]["Error"];
      503: components["schemas"]["Error"];
      504: components["schemas"]["Error"];
    };
  };
  /** Decide and run any modality */
  infer: {
    body: components["schemas"]["InferRequest"];
    responses: {
      200: components["schemas"]["InferAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      402: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      422: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
      502: components["schemas"]["Error"];
      503: components["schemas"]["Error"];
      504: components["schemas"]["Error"];
    };
  };
  /** Report how a request went */
  reportOutcome: {
    body: components["schemas"]["ReportOutcomeRequest"];
    responses: {
      202: components["schemas"]["OutcomeAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** The model catalog */
  catalog: {
    responses: {
      200: components["schemas"]["Catalog"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Register or update a MEC site */
  putSite: {
    params: {
      id: string;
    };
    body: components["schemas"]["PutSiteRequest"];
    responses: {
      200: components["schemas"]["SiteAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** One site in detail */
  getSite: {
    params: {
      id: string;
    };
    responses: {
      200: components["schemas"]["SiteDetail"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Forget a site */
  deleteSite: {
    params: {
      id: string;
    };
    responses: {
      204: null;
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** The fleet */
  listSites: {
    responses: {
      200: components["schemas"]["Fleet"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** A site's live load */
  siteHeartbeat: {
    params: {
      id: string;
    };
    body: components["schemas"]["SiteHeartbeatRequest"];
    responses: {
      200: components["schemas"]["HeartbeatAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Drain a site */
  drainSite: {
    params: {
      id: string;
    };
    responses: {
      200: components["schemas"]["SiteAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Resume a drained site */
  resumeSite: {
    params: {
      id: string;
    };
    responses: {
      200: components["schemas"]["SiteAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Make a model resident at a site */
  loadSiteModel: {
    params: {
      id: string;
    };
    body: components["schemas"]["LoadSiteModelRequest"];
    responses: {
      200: components["schemas"]["ModelLoadAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      409: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Anomalies the monitor found */
  listAnomalies: {
    query?: {
      from?: string;
      to?: string;
      target?: string;
      limit?: string;
    };
    responses: {
      200: components["schemas"]["Anomalies"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Policy proposals */
  listProposals: {
    query?: {
      limit?: string;
    };
    responses: {
      200: components["schemas"]["Proposals"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Propose score weights */
  createProposal: {
    body: components["schemas"]["CreateProposalRequest"];
    responses: {
      201: components["schemas"]["ProposalAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Approve a proposal */
  approveProposal: {
    params: {
      id: string;
    };
    responses: {
      200: components["schemas"]["ApprovedProposal"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      409: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Reject a proposal */
  rejectProposal: {
    params: {
      id: string;
    };
    responses: {
      200: components["schemas"]["ProposalAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      409: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Totals over a window */
  analyticsSummary: {
    query?: {
      range?: "15m" | "1h" | "6h" | "24h" | "7d";
      from?: number;
      to?: number;
      step?: "1m" | "2m" | "5m" | "10m" | "15m" | "30m" | "1h" | "2h" | "3h" | "6h" | "12h" | "1d";
    };
    responses: {
      200: components["schemas"]["AnalyticsSummary"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Requests, tier split, SLA, cost, errors and failovers over time */
  analyticsTimeseries: {
    query?: {
      range?: "15m" | "1h" | "6h" | "24h" | "7d";
      from?: number;
      to?: number;
      step?: "1m" | "2m" | "5m" | "10m" | "15m" | "30m" | "1h" | "2h" | "3h" | "6h" | "12h" | "1d";
      tier?: "device" | "mec" | "cloud";
      target?: string;
    };
    responses: {
      200: components["schemas"]["AnalyticsTimeseries"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Latency percentiles per tier over time */
  analyticsLatency: {
    query?: {
      range?: "15m" | "1h" | "6h" | "24h" | "7d";
      from?: number;
      to?: number;
      step?: "1m" | "2m" | "5m" | "10m" | "15m" | "30m" | "1h" | "2h" | "3h" | "6h" | "12h" | "1d";
      metric?: "latency" | "ttft";
      target?: string;
    };
    responses: {
      200: components["schemas"]["AnalyticsLatency"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Per site, region and device, busiest first */
  analyticsTargets: {
    query?: {
      range?: "15m" | "1h" | "6h" | "24h" | "7d";
      from?: number;
      to?: number;
      step?: "1m" | "2m" | "5m" | "10m" | "15m" | "30m" | "1h" | "2h" | "3h" | "6h" | "12h" | "1d";
      tier?: "device" | "mec" | "cloud";
      limit?: number;
    };
    responses: {
      200: components["schemas"]["AnalyticsTargets"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Nova usage and cost per role */
  analyticsNova: {
    query?: {
      range?: "15m" | "1h" | "6h" | "24h" | "7d";
      from?: number;
      to?: number;
      step?: "1m" | "2m" | "5m" | "10m" | "15m" | "30m" | "1h" | "2h" | "3h" | "6h" | "12h" | "1d";
    };
    responses: {
      200: components["schemas"]["AnalyticsNova"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Anomalies with their evidence */
  analyticsAnomalies: {
    query?: {
      range?: "15m" | "1h" | "6h" | "24h" | "7d";
      from?: number;
      to?: number;
      step?: "1m" | "2m" | "5m" | "10m" | "15m" | "30m" | "1h" | "2h" | "3h" | "6h" | "12h" | "1d";
      target?: string;
      open?: "true" | "false";
      limit?: number;
    };
    responses: {
      200: components["schemas"]["AnalyticsAnomalies"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** The decision explorer */
  analyticsDecisions: {
    query?: {
      range?: "15m" | "1h" | "6h" | "24h" | "7d";
      from?: number;
      to?: number;
      step?: "1m" | "2m" | "5m" | "10m" | "15m" | "30m" | "1h" | "2h" | "3h" | "6h" | "12h" | "1d";
      tier?: "device" | "mec" | "cloud";
      target?: string;
      model?: string;
      outcome?: "ok" | "error" | "failover" | "none";
      limit?: number;
      before?: string;
      tenant?: string;
    };
    responses: {
      200: components["schemas"]["AnalyticsDecisions"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** One decision explained */
  explainDecision: {
    params: {
      id: string;
    };
    responses: {
      200: components["schemas"]["DecisionDetail"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** The live fleet */
  analyticsFleet: {
    responses: {
      200: components["schemas"]["AnalyticsFleet"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** One site live, with its last 15 minutes */
  analyticsSite: {
    params: {
      siteId: string;
    };
    responses: {
      200: components["schemas"]["AnalyticsSite"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Policy A/B comparison */
  policyAnalytics: {
    query?: {
      from?: string;
      to?: string;
      tenant?: string;
    };
    responses: {
      200: components["schemas"]["PolicyAnalytics"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Create a tenant */
  createTenant: {
    body: components["schemas"]["CreateTenantRequest"];
    responses: {
      201: components["schemas"]["TenantAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      409: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Tenants */
  listTenants: {
    query?: {
      limit?: string;
      after?: string;
    };
    responses: {
      200: components["schemas"]["Tenants"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** One tenant, with this period's spending */
  getTenant: {
    params: {
      id: string;
    };
    responses: {
      200: components["schemas"]["TenantAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Rename, suspend or re-budget a tenant */
  updateTenant: {
    params: {
      id: string;
    };
    body: components["schemas"]["UpdateTenantRequest"];
    responses: {
      200: components["schemas"]["TenantAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Issue an API key */
  createKey: {
    body: components["schemas"]["CreateKeyRequest"];
    responses: {
      201: components["schemas"]["IssuedKey"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Issued keys (prefixes, never secrets) */
  listKeys: {
    query?: {
      tenant?: string;
      limit?: string;
    };
    responses: {
      200: components["schemas"]["ApiKeys"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** One issued key */
  getKey: {
    params: {
      id: string;
    };
    responses: {
      200: components["schemas"]["ApiKey"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Rotate a key */
  rotateKey: {
    params: {
      id: string;
    };
    body: components["schemas"]["RotateKeyRequest"];
    responses: {
      201: components["schemas"]["RotatedKey"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      409: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Revoke a key */
  revokeKey: {
    params: {
      id: string;
    };
    responses: {
      200: components["schemas"]["ApiKey"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      404: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Log in with an operator key */
  login: {
    body: components["schemas"]["LoginRequest"];
    responses: {
      200: components["schemas"]["SessionAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** The current session */
  getSession: {
    responses: {
      200: components["schemas"]["CurrentSessionAnswer"];
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Log out */
  logout: {
    responses: {
      204: null;
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** Liveness */
  health: {
    responses: {
      200: components["schemas"]["Health"];
      400: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** This OpenAPI document */
  openApiDocument: {
    responses: {
      200: components["schemas"]["OpenApiDocument200"];
      400: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** The API reference, rendered from this document */
  docsPage: {
    responses: {
      200: components["schemas"]["DocsPage200"];
      400: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** MCP (Model Context Protocol) for operators' assistants */
  mcp: {
    body: components["schemas"]["McpRequest"];
    responses: {
      200: components["schemas"]["JsonRpcResponse"];
      202: null;
      400: components["schemas"]["JsonRpcResponse"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      406: components["schemas"]["JsonRpcResponse"];
      413: components["schemas"]["Error"];
      415: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** MCP server-to-client stream (not offered) */
  mcpStream: {
    responses: {
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      405: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
  /** MCP session end (no sessions) */
  mcpEndSession: {
    responses: {
      400: components["schemas"]["Error"];
      401: components["schemas"]["Error"];
      403: components["schemas"]["Error"];
      405: components["schemas"]["Error"];
      413: components["schemas"]["Error"];
      429: components["schemas"]["Error"];
      500: components["schemas"]["Error"];
    };
  };
}

export const OPERATIONS = {
  route: { method: "POST", path: "/v1/route" },
  chatCompletions: { method: "POST", path: "/v1/chat/completions" },
  infer: { method: "POST", path: "/v1/infer" },
  reportOutcome: { method: "POST", path: "/v1/outcomes" },
  catalog: { method: "GET", path: "/v1/catalog" },
  putSite: { method: "PUT", path: "/v1/sites/{id}" },
  getSite: { method: "GET", path: "/v1/sites/{id}" },
  deleteSite: { method: "DELETE", path: "/v1/sites/{id}" },
  listSites: { method: "GET", path: "/v1/sites" },
  siteHeartbeat: { method: "POST", path: "/v1/sites/{id}/heartbeat" },
  drainSite: { method: "POST", path: "/v1/sites/{id}/drain" },
  resumeSite: { method: "POST", path: "/v1/sites/{id}/resume" },
  loadSiteModel: { method: "POST", path: "/v1/sites/{id}/models" },
  listAnomalies: { method: "GET", path: "/v1/anomalies" },
  listProposals: { method: "GET", path: "/v1/policy/proposals" },
  createProposal: { method: "POST", path: "/v1/policy/proposals" },
  approveProposal: { method: "POST", path: "/v1/policy/proposals/{id}/approve" },
  rejectProposal: { method: "POST", path: "/v1/policy/proposals/{id}/reject" },
  analyticsSummary: { method: "GET", path: "/v1/analytics/summary" },
  analyticsTimeseries: { method: "GET", path: "/v1/analytics/timeseries" },
  analyticsLatency: { method: "GET", path: "/v1/analytics/latency" },
  analyticsTargets: { method: "GET", path: "/v1/analytics/targets" },
  analyticsNova: { method: "GET", path: "/v1/analytics/nova" },
  analyticsAnomalies: { method: "GET", path: "/v1/analytics/anomalies" },
  analyticsDecisions: { method: "GET", path: "/v1/analytics/decisions" },
  explainDecision: { method: "GET", path: "/v1/analytics/decisions/{id}" },
  analyticsFleet: { method: "GET", path: "/v1/analytics/fleet" },
  analyticsSite: { method: "GET", path: "/v1/analytics/fleet/{siteId}" },
  policyAnalytics: { method: "GET", path: "/v1/analytics/policies" },
  createTenant: { method: "POST", path: "/v1/tenants" },
  listTenants: { method: "GET", path: "/v1/tenants" },
  getTenant: { method: "GET", path: "/v1/tenants/{id}" },
  updateTenant: { method: "PATCH", path: "/v1/tenants/{id}" },
  createKey: { method: "POST", path: "/v1/keys" },
  listKeys: { method: "GET", path: "/v1/keys" },
  getKey: { method: "GET", path: "/v1/keys/{id}" },
  rotateKey: { method: "POST", path: "/v1/keys/{id}/rotate" },
  revokeKey: { method: "POST", path: "/v1/keys/{id}/revoke" },
  login: { method: "POST", path: "/v1/session" },
  getSession: { method: "GET", path: "/v1/session" },
  logout: { method: "DELETE", path: "/v1/session" },
  health: { method: "GET", path: "/healthz" },
  openApiDocument: { method: "GET", path: "/openapi.json" },
  docsPage: { method: "GET", path: "/docs" },
  mcp: { method: "POST", path: "/mcp" },
  mcpStream: { method: "GET", path: "/mcp" },
  mcpEndSession: { method: "DELETE", path: "/mcp" },
} as const;
